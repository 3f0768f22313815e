"""Every refusal is a JSON body naming the field and the reason, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from leadpipe.ingest.adapters.metrics import REFUSED
from leadpipe.ingest.adapters.publisher import KafkaUnavailable
from leadpipe.ingest.domain.refusals import RateLimited, Refusal
from leadpipe.shared.http import JsonResponse

RETRY_AFTER_S = "5"
log = logging.getLogger(__name__)


def error_body(status: int, field: str | None, reason: str, code: str) -> JsonResponse:
    # ``code`` and ``message`` are what Segment-protocol clients log from an error body.
    return JsonResponse(
        {
            "success": False,
            "error": {"field": field, "reason": reason},
            "code": code,
            "message": f"{field}: {reason}" if field else reason,
        },
        status_code=status,
    )


def source_of(request: Request) -> str:
    """The source a request came from, as far as it is known when it is refused."""
    return str(getattr(request.state, "source", "unidentified"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def refusal(request: Request, exc: Refusal) -> JsonResponse:
        REFUSED.labels(source_of(request), exc.code).inc()
        # The reason may quote the sender's input; the log keeps only what names the refusal.
        log.info(
            "request refused",
            extra={"source": source_of(request), "code": exc.code, "field": exc.field},
        )
        response = error_body(exc.status, exc.field, exc.reason, exc.code)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, exc: ClientDisconnect) -> Response:
        # Gone before its body arrived (or cut off by the server's request deadline): there
        # is no one to answer, and nothing for the error log.
        REFUSED.labels(source_of(request), "client_disconnected").inc()
        return Response(status_code=400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JsonResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or None
        REFUSED.labels(source_of(request), "invalid_field").inc()
        return error_body(422, field, str(first.get("msg", "invalid")), "invalid_field")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        # Unknown paths (404) and methods (405) answer in the same shape as every refusal.
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        REFUSED.labels(source_of(request), code).inc()
        response = error_body(exc.status_code, None, str(exc.detail), code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(ValidationError)
    async def invalid_event(request: Request, exc: ValidationError) -> JsonResponse:
        # A last line of defence: input the domain let through but the event model refuses.
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid event"}
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        REFUSED.labels(source_of(request), "invalid_field").inc()
        return error_body(422, field, str(first.get("msg", "invalid")), "invalid_field")

    @app.exception_handler(KafkaUnavailable)
    async def kafka_unavailable(request: Request, exc: KafkaUnavailable) -> JsonResponse:
        REFUSED.labels(source_of(request), "kafka_unavailable").inc()
        log.warning(
            "kafka did not acknowledge", extra={"source": source_of(request), "error": str(exc)}
        )
        response = error_body(
            503, None, "the event could not be stored; retry later", "kafka_unavailable"
        )
        response.headers["Retry-After"] = RETRY_AFTER_S
        return response

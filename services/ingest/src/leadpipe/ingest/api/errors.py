"""Every refusal is a JSON body naming the field and the reason, never a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse

from leadpipe.ingest.adapters.publisher import KafkaUnavailable
from leadpipe.ingest.domain.forms import FieldError

RETRY_AFTER_S = "5"


def error_body(status: int, field: str | None, reason: str) -> ORJSONResponse:
    return ORJSONResponse(
        {"success": False, "error": {"field": field, "reason": reason}}, status_code=status
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FieldError)
    async def field_error(_: Request, exc: FieldError) -> ORJSONResponse:
        return error_body(422, exc.field, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or None
        return error_body(422, field, str(first.get("msg", "invalid")))

    @app.exception_handler(KafkaUnavailable)
    async def kafka_unavailable(_: Request, exc: KafkaUnavailable) -> ORJSONResponse:
        response = error_body(503, None, "the event could not be stored; retry later")
        response.headers["Retry-After"] = RETRY_AFTER_S
        return response

"""One error shape for the admin and read APIs of scoring and routing: RFC 9457 problem
details (``application/problem+json``)::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "limit: must be at most 500", "errors": [{"field": "limit", "reason": "…"}]}

Every refusal names the field and the reason; a 500 names nothing of the server's insides.
Ingest's tracking endpoints keep their Segment-compatible shape and do not use this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadpipe.shared.dead_letters import failure_kind

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(StarletteHTTPException):
    """A refusal: ``status`` with the field at fault (None when it is the request as a whole)
    and the reason, ``more`` such errors; ``extensions`` are extra members of the problem
    document."""

    def __init__(
        self,
        status: int,
        field: str | None,
        reason: str,
        *,
        more: Sequence[Mapping[str, Any]] = (),
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail=reason, headers=dict(headers or {}) or None)
        self.status, self.field, self.reason = status, field, reason
        self.errors = [{"field": field, "reason": reason}, *more]
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    errors: Sequence[Mapping[str, Any]],
    *,
    detail: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The problem document for ``status`` listing ``errors`` (``{"field", "reason"}``)."""
    if detail is None:
        detail = "; ".join(_describe(error) for error in errors) or HTTPStatus(status).phrase
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": [{"field": e.get("field"), "reason": e.get("reason")} for e in errors],
        **(extensions or {}),
    }
    return Response(
        orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {})
    )


def _describe(error: Mapping[str, Any]) -> str:
    field, reason = error.get("field"), error.get("reason")
    return f"{field}: {reason}" if field else str(reason)


def field_of(loc: Sequence[object]) -> str | None:
    """A pydantic error location as a dotted field name, without the "body"/"query" part."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or None


def reason_of(message: str) -> str:
    """pydantic prefixes our own messages with "Value error, "; the reason reads better without."""
    return message.removeprefix("Value error, ")


def _errors_of_detail(status: int, detail: Any) -> list[dict[str, Any]]:
    """HTTPException's ``detail``: a {"field", "reason"} dict, a list of them, or a text."""
    if isinstance(detail, Mapping) and "reason" in detail:
        return [{"field": detail.get("field"), "reason": str(detail["reason"])}]
    if isinstance(detail, list) and all(isinstance(d, Mapping) for d in detail):
        return [{"field": d.get("field"), "reason": str(d.get("reason"))} for d in detail]
    if isinstance(detail, str) and detail:
        return [{"field": None, "reason": detail}]
    return [{"field": None, "reason": HTTPStatus(status).phrase.lower()}]


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem document."""

    @app.exception_handler(Problem)
    async def problem(_: Request, exc: Problem) -> Response:
        return problem_response(
            exc.status,
            exc.errors,
            extensions=exc.extensions,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": field_of(e.get("loc", ())), "reason": reason_of(str(e.get("msg", "invalid")))}
            for e in exc.errors()
        ]
        return problem_response(422, errors or [{"field": None, "reason": "invalid request"}])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(
            exc.status_code,
            _errors_of_detail(exc.status_code, exc.detail),
            headers=exc.headers,
        )

    app.add_middleware(InternalErrors)


class InternalErrors:
    """A 500 problem document for an exception no handler took, logged by its class only:
    its text may carry request values (a driver's error names the value it refused). Unlike
    an ``Exception`` handler, which Starlette re-raises to the server's own traceback log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error(
                "request failed",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "error": failure_kind(exc),
                },
            )
            if started:
                return  # too late for an answer; the server closes the connection
            response = problem_response(
                500, [{"field": None, "reason": "internal error"}], detail="internal error"
            )
            await response(scope, receive, send)

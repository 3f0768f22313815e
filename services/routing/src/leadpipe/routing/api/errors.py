"""Every refusal is a JSON body naming the field and the reason, never a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.status, self.field, self.reason = status, field, reason


def reason_of(message: str) -> str:
    """pydantic prefixes our own messages with "Value error, "; the reason reads better without."""
    return message.removeprefix("Value error, ")


def _field(loc: tuple[object, ...] | list[object]) -> str | None:
    return ".".join(str(part) for part in loc if part != "body") or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": {"field": exc.field, "reason": exc.reason}}, status_code=exc.status
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(e.get("loc", ())), "reason": reason_of(str(e.get("msg", "invalid")))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": None, "reason": "invalid request"}
        return JSONResponse({"error": first, "errors": errors}, status_code=422)

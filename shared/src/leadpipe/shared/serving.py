"""Serving an ASGI app with uvicorn, with a deadline for each request to arrive.

uvicorn times out idle keep-alive connections, but not a request that is being sent: a client
sending one header byte every few seconds, or a body byte every few seconds, holds its
connection (and a file descriptor) for as long as it likes, and a few thousand such clients
exhaust a server. Here every request must arrive whole, headers and body, within a deadline
from its first byte (from the connection's opening, for its first request)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_REASON = "the request did not arrive in time"
_TIMED_OUT_BODY = orjson.dumps(
    {
        "success": False,
        "error": {"field": None, "reason": _REASON},
        "code": "request_timeout",
        "message": _REASON,
    }
)
TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n" % len(_TIMED_OUT_BODY)
) + _TIMED_OUT_BODY


class RequestDeadline(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools), closing a connection whose request has not
    arrived whole within ``timeout_s``; answered 408 when nothing was answered yet."""

    timeout_s: ClassVar[float] = 30.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(TIMED_OUT)
        self.transport.close()


def with_deadline(timeout_s: float) -> type[RequestDeadline]:
    return type("RequestDeadline", (RequestDeadline,), {"timeout_s": timeout_s})


def serve(
    app: object, *, host: str, port: int, request_timeout_s: float, **options: object
) -> None:
    """``uvicorn.run`` with :class:`RequestDeadline` as its HTTP protocol."""
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        http=with_deadline(request_timeout_s),
        **options,  # type: ignore[arg-type]
    )

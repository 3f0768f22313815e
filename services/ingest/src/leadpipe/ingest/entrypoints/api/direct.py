"""Event posts straight to their endpoints.

Event posts are nearly all of ingest's traffic. Under load, FastAPI's middleware stack, route
matching and dependency solving cost more than the endpoint itself does (parsing, the event,
its envelope, the Kafka send). So a POST to an event endpoint goes from
the server to the endpoint function with a plain Starlette request, and a refusal to the same
exception handler FastAPI would have called: the answer is the same either way. Everything
else (docs, health, metrics, preflights, unknown paths) goes through FastAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

Endpoint = Callable[..., Awaitable[Response]]
ExceptionHandler = Callable[[Request, Any], Response | Awaitable[Response]]


class DirectPosts:
    """The ASGI app ingest serves: ``app``, with POSTs to ``routes`` (path template →
    endpoint, the same pairs ``app`` routes) taken directly."""

    def __init__(self, app: FastAPI, routes: Mapping[str, Endpoint]) -> None:
        self.app = app
        self._routes = [(compile_path(path)[0], endpoint) for path, endpoint in routes.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            for pattern, endpoint in self._routes:
                match = pattern.match(path)
                if match is not None:
                    await self._serve(scope, receive, send, endpoint, match.groupdict())
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, params: dict[str, Any]
    ) -> None:
        scope["app"] = self.app  # what ``request.app`` gives the endpoint, as under FastAPI
        request = Request(scope, receive)
        try:
            response = await endpoint(request, **params)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # a bug: the server answers 500, as FastAPI's error middleware would
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        for kind in type(exc).__mro__:
            handler: ExceptionHandler | None = self.app.exception_handlers.get(kind)
            if handler is not None:
                return handler
        return None

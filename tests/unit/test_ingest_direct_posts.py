"""Event posts served straight to their endpoints answer as they would through FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from leadpipe.ingest.entrypoints.api.direct import DirectPosts


class Refused(Exception):
    pass


async def submit(request: Request, form_id: str) -> JSONResponse:
    body = await request.body()
    if body == b"refuse":
        raise Refused(form_id)
    if body == b"crash":
        raise RuntimeError("a bug")
    return JSONResponse({"form": form_id, "body": body.decode(), "same_app": request.app.title})


async def refused(request: Request, exc: Refused) -> JSONResponse:
    return JSONResponse({"refused": str(exc)}, status_code=422)


def app() -> FastAPI:
    made = FastAPI(title="the app")
    made.add_exception_handler(Refused, refused)  # type: ignore[arg-type]
    made.add_api_route("/v1/forms/{form_id}", submit, methods=["POST"])
    made.add_api_route("/v1/forms/{form_id}", lambda form_id: {"described": form_id})
    return made


def client(served: ASGIApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=served, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://ingest")


@pytest.fixture
async def both() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    plain = app()
    async with (
        client(DirectPosts(plain, {"/v1/forms/{form_id}": submit})) as direct,
        client(plain) as through_fastapi,
    ):
        yield direct, through_fastapi


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/forms/contact", b"hello"),  # the endpoint, with its path parameter
        ("POST", "/v1/forms/contact", b"refuse"),  # a refusal, through the app's handler
        ("POST", "/v1/forms/contact", b"crash"),  # a bug: 500 (its text is the server's)
        ("GET", "/v1/forms/contact", b""),  # other methods: through FastAPI
        ("POST", "/v1/other", b"hello"),  # other paths: FastAPI's 404
    ],
)
async def test_the_answer_is_the_same_either_way(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient], method: str, path: str, body: bytes
) -> None:
    direct, through_fastapi = both
    expected = await through_fastapi.request(method, path, content=body)
    answered = await direct.request(method, path, content=body)
    assert answered.status_code == expected.status_code
    if body != b"crash":
        assert answered.content == expected.content
    if body == b"hello" and path.startswith("/v1/forms/"):
        assert answered.json() == {"form": "contact", "body": "hello", "same_app": "the app"}

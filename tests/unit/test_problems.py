"""The error shape of scoring's and routing's APIs: RFC 9457 problem documents."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query

from leadpipe.shared.api_input import Instant, bounded_instant, text_problem
from leadpipe.shared.problems import Problem, install_problem_handlers

SECRET = "max@mustermann.example"


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items")
    async def items(
        limit: Annotated[int, Query(ge=1, le=500)] = 50, since: Instant | None = None
    ) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/missing")
    async def missing() -> None:
        raise Problem(404, "item_id", "no such item")

    @app.get("/plain")
    async def plain() -> None:
        raise HTTPException(409, detail={"field": "version", "reason": "exists"})

    @app.get("/broken")
    async def broken() -> None:
        raise ValueError(f"cannot store {SECRET}")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_validation_error_names_each_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/items", params={"limit": 10**30, "since": "2026-01-01T00:00"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["title"], problem["status"]) == (
        "about:blank",
        "Unprocessable Entity",
        422,
    )
    assert [error["field"] for error in problem["errors"]] == ["limit", "since"]
    assert "limit:" in problem["detail"]


async def test_own_and_framework_refusals_share_the_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/missing")
    assert missing.status_code == 404
    assert missing.json()["errors"] == [{"field": "item_id", "reason": "no such item"}]
    conflict = await client.get("/plain")
    assert conflict.json()["errors"] == [{"field": "version", "reason": "exists"}]
    unknown = await client.get("/nowhere")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_a_server_error_tells_and_logs_nothing_of_its_insides(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await client.get("/broken")
    assert response.status_code == 500
    assert response.json()["detail"] == "internal error"
    assert SECRET not in response.text
    assert caplog.records
    assert all(SECRET not in str(record.__dict__) for record in caplog.records)


def test_text_and_instants_the_database_cannot_store_are_named() -> None:
    assert text_problem("a\x00b") == "must not contain a NUL character"
    assert text_problem("\ud800") is not None
    assert text_problem("Müller") is None
    for bad in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-01-01T00:00"):
        with pytest.raises(ValueError, match=r"time zone|between"):
            bounded_instant(datetime.fromisoformat(bad))

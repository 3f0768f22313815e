"""Every service's API docs load their scripts and styles from the service, never a CDN."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from leadpipe.ingest.main import create_app as ingest_app
from leadpipe.routing.main import create_app as routing_app
from leadpipe.scoring.main import create_app as scoring_app
from leadpipe.shared.settings import Settings

REFERENCED = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("make", [ingest_app, scoring_app, routing_app])
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_names_no_other_host_and_its_assets_are_served(
    make: Callable[[Settings], FastAPI], page: str
) -> None:
    # The lifespan is not run: the pages need neither Kafka nor PostgreSQL.
    transport = httpx.ASGITransport(app=make(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        html = (await client.get(page)).text
        assert "://" not in html
        assets = REFERENCED.findall(html)
        assert len(assets) >= 2
        for asset in assets:
            answer = await client.get(asset)
            assert answer.status_code == 200, asset
            assert len(answer.content) > 1000, asset

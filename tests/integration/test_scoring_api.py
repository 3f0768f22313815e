"""Scoring's read API and rules API over HTTP, on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import yaml
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.cli.leads import print_lead
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.api.leads import leads_router
from leadpipe.scoring.entrypoints.api.rules import rules_router
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.rules.loader import default_rules_text
from leadpipe.shared.problems import install_problem_handlers
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import delivered
from tests.integration.test_scoring_consumer import Commits, demo, event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    cache = RulesCache()
    app = FastAPI()
    install_problem_handlers(app)
    app.state.sessions = sessions
    app.include_router(leads_router(cache))
    app.include_router(rules_router(cache))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://scoring"
    ) as client:
        yield client


async def _scored(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], email: str
) -> None:
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler([delivered(demo(email))])


async def test_a_lead_by_email_and_by_id_shows_scores_reasons_history_and_questions(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    email = f"view.{uuid.uuid4().hex[:8]}@firma.example"
    await _scored(settings, sessions, email)
    response = await client.get("/v1/leads", params={"email": email.upper()})
    assert response.status_code == 200, response.text
    lead = response.json()
    assert (lead["stage"], lead["grade"], lead["temperature"]) == ("sql", "A", "hot")
    assert (lead["fit"], lead["engagement"], lead["qualification"]) == (85, 30, 50)
    for component in ("fit", "engagement", "qualification"):
        assert (
            sum(r["delta"] for r in lead["reasons"] if r["component"] == component)
            == lead[component]
        )
    assert all(r["rules_version"] == "dach-b2b-2026.1" for r in lead["reasons"])
    assert [m["to_stage"] for m in lead["history"]] == ["lead", "mql", "sql"]
    assert [q["criterion"] for q in lead["open_questions"]] == ["need", "timeline"]
    assert lead["open_questions"][1]["question"] == "By when does the solution have to be live?"
    by_id = (await client.get(f"/v1/leads/{lead['id']}")).json()
    assert by_id["email"] == email


async def test_unknown_leads_and_bad_cursors_name_the_field(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/leads", params={"email": "nobody@nowhere.example"})
    assert missing.status_code == 404
    assert missing.json()["errors"] == [{"field": "email", "reason": "no lead with this email"}]
    bad = await client.get("/v1/leads", params={"cursor": "%%%"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_the_list_filters_and_pages_with_a_cursor(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    emails = {f"page.{uuid.uuid4().hex[:8]}@firma{n}.example" for n in range(5)}
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler([delivered(demo(email)) for email in sorted(emails)])
    cold = f"cold.{uuid.uuid4().hex[:8]}@firma.example"
    await handler([delivered(event("identify", email=cold))])
    since = "2000-01-01T00:00:00+00:00"
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {
            "stage": "sql",
            "grade": "A",
            "temperature": "hot",
            "limit": "2",
            "updated_since": since,
        }
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/leads", params=params)).json()
        seen += [lead["email"] for lead in page["leads"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert emails <= set(seen)
    assert len(seen) == len(set(seen))  # no lead twice across pages
    assert cold not in seen
    assert pages >= 3
    naive = await client.get("/v1/leads", params={"updated_since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_an_invalid_rules_file_is_refused_with_its_problems(
    client: httpx.AsyncClient,
) -> None:
    document = yaml.safe_load(default_rules_text())
    document["temperature"]["hot"] = 500
    response = await client.post(
        "/v1/rules/validate", json={"text": yaml.safe_dump(document), "file": "mine.yaml"}
    )
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "file": "mine.yaml",
            "path": "temperature.hot",
            "reason": "500 is greater than the maximum of 100",
        }
    ]


async def test_simulate_then_activate_a_draft_version(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    email = f"whatif.{uuid.uuid4().hex[:8]}@firma.example"
    await _scored(settings, sessions, email)
    document = yaml.safe_load(default_rules_text())
    document["version"] = f"strict-{uuid.uuid4().hex[:6]}"
    document["lifecycle"]["sql"]["min_qualification"] = 75
    draft = yaml.safe_dump(document, allow_unicode=True)

    report = (await client.post("/v1/rules/simulate", json={"text": draft})).json()
    assert report["draft_version"] == document["version"]
    mine = [s for s in report["shifts"] if s["email"] == email]
    assert mine == [
        {
            "lead_id": mine[0]["lead_id"],
            "email": email,
            "from_stage": "sql",
            "to_stage": "mql",
            "why": "hand-raiser: asked for a demo",
        }
    ]
    assert report["by_stage"]["sql → mql"] >= 1
    # The what-if touched nothing live.
    assert (await client.get("/v1/leads", params={"email": email})).json()["stage"] == "sql"

    try:
        activated = await client.post("/v1/rules/activate", json={"text": draft})
        assert activated.status_code == 200, activated.text
        assert (await client.get("/v1/rules/active")).json()["version"] == document["version"]
        document["description"] = "same version, other text"
        clash = await client.post(
            "/v1/rules/activate", json={"text": yaml.safe_dump(document, allow_unicode=True)}
        )
        assert clash.status_code == 409
        assert clash.json()["errors"][0]["field"] == "version"
    finally:
        restored = await client.post("/v1/rules/activate", json={"text": default_rules_text()})
        assert restored.status_code == 200


async def test_lead_show_prints_scores_reasons_and_the_next_questions(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    email = f"show.{uuid.uuid4().hex[:8]}@firma.example"
    await _scored(settings, sessions, email)
    lead = (await client.get("/v1/leads", params={"email": email})).json()
    console = Console(record=True, width=200)
    print_lead(lead, [], console)
    text = console.export_text()
    assert "stage sql · fit 85 · engagement 30 · qualification 50 · grade A · hot" in text
    assert "+25 BANT budget confirmed on the form" in text
    assert "timeline: By when does the solution have to be live?" in text

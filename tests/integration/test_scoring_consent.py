"""Consent as state on real PostgreSQL: kept on the lead, shown by the API and the CLI; a
withdrawal stops scoring (and so routing) of the person's tracking calls until a later form
gives consent again; erasure removes it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.cli.leads import print_lead
from leadpipe.scoring.adapters.orm import InboundEventRow, LeadRow
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from leadpipe.scoring.entrypoints.api.leads import leads_router
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.service.erasure import erase_person
from leadpipe.shared.events import Consent, InboundEvent
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import delivered
from tests.integration.test_scoring_consumer import Commits, event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]

START = datetime.now(UTC) - timedelta(days=2)


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.sessions = sessions
    app.include_router(leads_router(RulesCache()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://scoring"
    ) as client:
        yield client


def _whitepaper(email: str, at: datetime, purpose: str) -> InboundEvent:
    """A form post that scores but does not raise a hand, with consent given on it."""
    form = event(
        "form_submitted",
        email=email,
        at=at,
        traits={
            "email": email,
            "title": "Geschäftsführer",
            "company_size": 120,
            "industry": "Maschinenbau",
            "country": "DE",
        },
        properties={"form_id": "whitepaper", "asset_type": "whitepaper"},
    )
    consent = Consent(purpose=purpose, granted_at=at, text_version="2026-01")
    return form.model_copy(update={"consent": consent, "source": "form:whitepaper"})


def _pricing_visits(email: str, at: datetime) -> list[InboundEvent]:
    return [
        event(
            "page",
            email=email,
            at=at + timedelta(minutes=i),
            properties={"url": "https://www.example.com/preise"},
        )
        for i in range(3)
    ]


async def _apply(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], *events: InboundEvent
) -> None:
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler([delivered(e) for e in events])


async def _stored_events(sessions: async_sessionmaker[AsyncSession], lead_id: str) -> int:
    async with sessions() as session:
        count = await session.execute(
            select(func.count())
            .select_from(InboundEventRow)
            .where(InboundEventRow.lead_id == lead_id)
        )
        return int(count.scalar_one())


async def test_withdrawn_consent_stops_tracking_until_a_later_form_gives_it_again(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    email = f"consent.{uuid.uuid4().hex[:8]}@firma.example"
    await _apply(settings, sessions, _whitepaper(email, START, "marketing"))
    withdrawal = event(
        "consent_withdrawn",
        email=email,
        at=START + timedelta(hours=1),
        properties={"purpose": "marketing"},
    )
    await _apply(settings, sessions, withdrawal)
    await _apply(settings, sessions, *_pricing_visits(email, START + timedelta(hours=2)))

    lead = (await client.get("/v1/leads", params={"email": email})).json()
    assert lead["stage"] == "lead"  # three pricing visits would have made an MQL
    assert [m["to_stage"] for m in lead["history"]] == ["lead"]  # so nothing to route
    assert not any("pricing" in r["reason"] for r in lead["reasons"])
    assert lead["tracking_stopped"] is True
    [consent] = lead["consents"]
    assert {k: consent[k] for k in ("purpose", "text_version", "source", "withdrawn")} == {
        "purpose": "marketing",
        "text_version": "2026-01",
        "source": "form:whitepaper",
        "withdrawn": True,
    }
    assert consent["withdrawn_via"] == "it"
    assert datetime.fromisoformat(consent["given_at"]) == START
    assert datetime.fromisoformat(consent["withdrawn_at"]) == START + timedelta(hours=1)
    assert await _stored_events(sessions, lead["id"]) == 2  # the ignored calls are not kept

    console = Console(record=True, width=200)
    print_lead(lead, [], console)
    shown = console.export_text()
    assert "Consent" in shown and "marketing" in shown and "2026-01" in shown
    assert "Tracking calls are not scored: consent was withdrawn." in shown

    # A later form with consent lets the person's tracking count again.
    again = START + timedelta(days=1)
    await _apply(settings, sessions, _whitepaper(email, again, "newsletter"))
    await _apply(settings, sessions, *_pricing_visits(email, again + timedelta(hours=1)))
    lead = (await client.get("/v1/leads", params={"email": email})).json()
    assert lead["tracking_stopped"] is False
    assert [c["withdrawn"] for c in lead["consents"]] == [True, False]
    assert lead["stage"] == "mql"


async def test_erasure_removes_the_consent_records(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"consent.erased.{uuid.uuid4().hex[:8]}@firma.example"
    await _apply(settings, sessions, _whitepaper(email, START, "marketing"))
    async with sessions() as session:
        lead = (await session.execute(select(LeadRow).where(LeadRow.email == email))).scalar_one()
    assert len(lead.consents) == 1
    async with sessions() as session, session.begin():
        now = datetime.now(UTC)
        uow = await PostgresScoringUnitOfWork.open(session, settings.topics, now)
        await erase_person(uow, email, settings.topics, now)
    async with sessions() as session:
        erased = await session.get(LeadRow, lead.id)
    assert erased is not None and erased.consents == []

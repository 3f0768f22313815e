"""An event dated at the end of year 9999 that ingest let through is scored like any other,
and so are the later events of its lead (its decay crossing once overflowed, for good)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import LeadRow, ProcessedEventRow
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import delivered
from tests.integration.test_scoring_consumer import Commits, event

pytestmark = pytest.mark.integration

END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


async def test_a_lead_with_an_event_at_the_end_of_time_keeps_being_scored(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"far.future.{uuid.uuid4().hex[:8]}@time.example"
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    # A CTO whose engagement makes an MQL, the stage that computes a decay crossing, by
    # events from a client whose clock says 9999; then one from a sane client.
    at = END_OF_TIME
    for far_future in (
        event("identify", email=email, at=at, traits={"title": "CTO"}),
        event("track", email=email, at=at, properties={"event": "Webinar Attended"}),
        event("track", email=email, at=at, properties={"event": "Chat Started"}),
        event("page", email=email, at=at, properties={"url": "/pricing"}),
    ):
        await handler([delivered(far_future)])
    sane = event("page", email=email, properties={"url": "/pricing"})
    await handler([delivered(sane)])
    async with sessions() as session:
        lead = (await session.execute(select(LeadRow).where(LeadRow.email == email))).scalar_one()
        applied = await session.get(ProcessedEventRow, sane.event_id)
    assert lead.stage == "mql"
    assert lead.recycle_at is None  # its decay ends beyond the horizon: never due
    assert applied is not None  # the sane event was applied too

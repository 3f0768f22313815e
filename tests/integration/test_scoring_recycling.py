"""Recycling decayed MQLs to nurture through the computed moment and its index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import LeadRow, StageChangeRow
from leadpipe.scoring.adapters.orm import outbox as scoring_outbox
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.scoring.service.recycling import recycle_due
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import delivered
from tests.integration.test_scoring_consumer import Commits, event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


async def test_a_decayed_mql_is_recycled_once_and_emits_one_stage_change(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"decay.{uuid.uuid4().hex[:8]}@firma.example"
    start = datetime.now(UTC)
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler(
        [
            delivered(event("identify", email=email, at=start, traits={"title": "CTO"})),
            delivered(
                event("track", email=email, at=start, properties={"event": "Webinar Attended"})
            ),
            delivered(event("track", email=email, at=start, properties={"event": "Chat Started"})),
            delivered(event("page", email=email, at=start, properties={"url": "/pricing"})),
        ]
    )
    async with sessions() as session:
        lead = (await session.execute(select(LeadRow).where(LeadRow.email == email))).scalar_one()
    assert lead.stage == "mql"
    assert lead.recycle_at is not None and lead.recycle_at > start

    rules = default_rules()
    async with sessions() as session, session.begin():
        at = lead.recycle_at - timedelta(hours=1)
        uow = await PostgresScoringUnitOfWork.open(session, settings.topics, at, rules)
        await recycle_due(uow, rules, at)
    async with sessions() as session, session.begin():
        at = lead.recycle_at + timedelta(minutes=1)
        uow = await PostgresScoringUnitOfWork.open(session, settings.topics, at, rules)
        await recycle_due(uow, rules, at)
    async with sessions() as session, session.begin():
        at = lead.recycle_at + timedelta(days=1)
        uow = await PostgresScoringUnitOfWork.open(session, settings.topics, at, rules)
        await recycle_due(uow, rules, at)

    async with sessions() as session:
        after = (await session.execute(select(LeadRow).where(LeadRow.id == lead.id))).scalar_one()
        moves = (
            await session.execute(
                select(StageChangeRow.to_stage, StageChangeRow.reason)
                .where(StageChangeRow.lead_id == lead.id)
                .order_by(StageChangeRow.id)
            )
        ).all()
        emitted = await session.scalar(
            select(func.count()).where(scoring_outbox.c.key == record_key(email))
        )
    assert after.stage == "nurture"
    assert after.recycle_at is None
    assert [m.to_stage for m in moves] == ["lead", "mql", "nurture"]
    assert moves[-1].reason.startswith("engagement decayed to")
    assert emitted == 3


async def test_the_sweep_reads_due_leads_through_the_partial_index(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        # Take table size out of the planner's choice: the index must be able to serve the sweep.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            (
                await session.execute(
                    text(
                        "EXPLAIN SELECT * FROM scoring.leads WHERE recycle_at <= now() "
                        "ORDER BY recycle_at LIMIT 500"
                    )
                )
            ).scalars()
        )
    assert "ix_leads_recycle_at" in plan

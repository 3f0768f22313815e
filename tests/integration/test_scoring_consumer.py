"""Scoring against real Kafka and PostgreSQL: consumption in batches, merge, sales moves, outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import (
    AccountRow,
    InboundEventRow,
    LeadRow,
    ScoreChangeRow,
    StageChangeRow,
)
from leadpipe.scoring.adapters.orm import outbox as scoring_outbox
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.shared.consume import ConsumerHealth, consume_forever
from leadpipe.shared.dead_letters import DeadLetterQueue
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import Identity, InboundEvent, Stage
from leadpipe.shared.kafka import ensure_topics, make_consumer, make_producer, publish
from leadpipe.shared.privacy import record_key
from leadpipe.shared.records import Record
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import delivered

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


def event(
    name: str,
    *,
    email: str | None,
    anonymous_id: str | None = None,
    at: datetime | None = None,
    traits: dict[str, object] | None = None,
    properties: dict[str, object] | None = None,
) -> InboundEvent:
    when = at or datetime.now(UTC)
    return InboundEvent.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "occurred_at": when,
            "received_at": when,
            "name": name,
            "lead_key": email or anonymous_id,
            "source": "it",
            "identity": Identity(email=email, anonymous_id=anonymous_id),
            "traits": traits or {},
            "properties": properties or {},
        }
    )


def demo(email: str) -> InboundEvent:
    return event(
        "form_submitted",
        email=email,
        traits={
            "email": email,
            "title": "Geschäftsführer",
            "company": "Muster Maschinenbau GmbH",
            "company_size": 120,
            "industry": "Maschinenbau",
            "country": "DE",
        },
        properties={"form_id": "demo-request", "budget": "yes"},
    )


class Commits:
    def __call__(self) -> None:
        pass


async def _lead(sessions: async_sessionmaker[AsyncSession], email: str) -> LeadRow:
    async with sessions() as session:
        return (await session.execute(select(LeadRow).where(LeadRow.email == email))).scalar_one()


async def _history(
    sessions: async_sessionmaker[AsyncSession], lead_id: str
) -> list[StageChangeRow]:
    async with sessions() as session:
        rows = await session.execute(
            select(StageChangeRow)
            .where(StageChangeRow.lead_id == lead_id)
            .order_by(StageChangeRow.id)
        )
        return list(rows.scalars())


async def test_events_consumed_from_kafka_are_scored_in_one_batch(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    topic = f"{settings.topic_prefix}scoring-it-{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        settings.kafka_bootstrap,
        [topic],
        partitions=1,
        replication_factor=1,
        retention_ms=3_600_000,
    )
    emails = [f"batch.{uuid.uuid4().hex[:8]}@kunde{n}.example" for n in range(20)]
    producer = make_producer(settings.kafka_bootstrap, "scoring-it")
    await producer.start()
    try:
        for email in emails:
            await publish(producer, topic, email, wrap(demo(email), "/it"))
    finally:
        await producer.stop()
    consumer = make_consumer(
        settings.kafka_bootstrap, f"scoring-it-{uuid.uuid4().hex[:6]}", [topic]
    )
    await consumer.start()
    health = ConsumerHealth()
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    batches: list[int] = []
    all_applied = asyncio.Event()

    async def counting(records: Sequence[Record]) -> None:
        await handler(records)
        batches.append(len(records))
        if sum(batches) >= len(emails):
            all_applied.set()

    dlq_producer = make_producer(settings.kafka_bootstrap, "scoring-it-dlq")
    await dlq_producer.start()
    dead_letters = DeadLetterQueue(dlq_producer, settings.topics.lead_events_dlq)
    task = asyncio.create_task(consume_forever(consumer, counting, health, dead_letters))
    try:
        async with asyncio.timeout(60):
            await all_applied.wait()
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await dlq_producer.stop()
    async with sessions() as session:
        stages = (
            await session.execute(
                select(LeadRow.stage, LeadRow.grade).where(LeadRow.email.in_(emails))
            )
        ).all()
        emitted = await session.scalar(
            select(func.count()).where(scoring_outbox.c.key.in_([record_key(e) for e in emails]))
        )
        accounts = await session.scalar(
            select(func.count()).where(AccountRow.domain.in_([e.split("@")[1] for e in emails]))
        )
    assert sorted(stages) == [("sql", "A")] * len(emails)
    assert emitted == 3 * len(emails)  # lead, mql, sql: one stage-changed event per move
    assert accounts == len(emails)


async def test_an_anonymous_visitor_is_merged_and_rescored_on_identify(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    anonymous_id = f"anon-{uuid.uuid4().hex[:8]}"
    email = f"merge.{uuid.uuid4().hex[:8]}@firma.example"
    start = datetime.now(UTC) - timedelta(minutes=10)
    visits = [
        event(
            "page",
            email=None,
            anonymous_id=anonymous_id,
            at=start + timedelta(minutes=n),
            properties={"url": url},
        )
        for n, url in enumerate(["/pricing", "/produkt", "/preise"])
    ]
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler([delivered(v) for v in visits])
    known = event(
        "form_submitted",
        email=email,
        traits={"email": email, "title": "CTO", "country": "AT", "company_size": 300},
        properties={"form_id": "newsletter"},
    )
    await handler([delivered(known)])
    identify = event("identify", email=email, anonymous_id=anonymous_id)
    await handler([delivered(identify)])

    lead = await _lead(sessions, email)
    async with sessions() as session:
        visitor = (
            await session.execute(select(LeadRow).where(LeadRow.lead_key == anonymous_id))
        ).scalar_one()
        events = await session.scalar(
            select(func.count()).where(InboundEventRow.lead_id == lead.id)
        )
        deltas = (
            await session.execute(
                select(ScoreChangeRow.component, func.sum(ScoreChangeRow.delta))
                .where(ScoreChangeRow.lead_id == lead.id)
                .group_by(ScoreChangeRow.component)
            )
        ).all()
    assert visitor.merged_into == lead.id
    assert events == 5  # the visitor's three page views now belong to the lead
    assert lead.engagement == 23  # 2 × 10 pricing + 3 page views
    assert lead.fit == 65
    assert lead.qualification == 25  # authority confirmed by the title CTO
    assert dict(deltas) == {
        "fit": lead.fit,
        "engagement": lead.engagement,
        "qualification": lead.qualification,
    }
    # Fit 65 ≥ 30 but engagement 23 < 25: still a lead; the merge was re-scored, not staged.
    assert lead.stage == Stage.LEAD


async def test_sales_feedback_moves_the_lead_and_refusals_are_recorded(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"sales.{uuid.uuid4().hex[:8]}@firma.example"
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler([delivered(demo(email))])
    await handler(
        [
            delivered(event("lead_contacted", email=email)),
            delivered(event("deal_won", email=email)),
            delivered(event("opportunity_created", email=email)),
            delivered(event("lead_disqualified", email=email)),
            delivered(event("deal_lost", email=email, properties={"reason": "went with a rival"})),
        ]
    )
    lead = await _lead(sessions, email)
    history = [
        (m.from_stage, m.to_stage, m.refused, m.reason) for m in await _history(sessions, lead.id)
    ]
    assert history[3:] == [
        ("sql", "customer", True, "sql may move only to disqualified, nurture, opportunity, sal"),
        ("sql", "opportunity", False, "opportunity created"),
        ("opportunity", "disqualified", True, "lead_disqualified needs a reason"),
        ("opportunity", "nurture", False, "deal lost: went with a rival"),
    ]
    assert lead.stage == Stage.NURTURE
    assert lead.contacted_at is not None
    async with sessions() as session:
        emitted = await session.scalar(
            select(func.count()).where(scoring_outbox.c.key == record_key(email))
        )
    assert emitted == 5  # lead, mql, sql, opportunity, nurture — none for the refusals


async def test_group_calls_carry_company_traits_onto_the_account_and_free_mail_makes_none(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    domain = f"muster-{uuid.uuid4().hex[:6]}.example"
    email = f"anna@{domain}"
    freemail = f"anna.{uuid.uuid4().hex[:8]}@gmx.de"
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler(
        [
            delivered(
                event(
                    "group",
                    email=email,
                    traits={"name": "Muster AG", "industry": "Maschinenbau", "employees": 250},
                )
            ),
            delivered(event("identify", email=freemail, traits={"company": "Privat"})),
        ]
    )
    async with sessions() as session:
        account = (
            await session.execute(select(AccountRow).where(AccountRow.domain == domain))
        ).scalar_one()
        private = await _lead(sessions, freemail)
    assert account.name == "Muster AG"
    assert account.traits == {"name": "Muster AG", "industry": "Maschinenbau", "employees": 250}
    assert private.account_domain is None
    lead = await _lead(sessions, email)
    assert lead.account_domain == domain
    assert (lead.industry, lead.company_size) == ("Maschinenbau", 250)

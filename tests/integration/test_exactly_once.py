"""A redelivered event changes nothing; the outbox relay publishes what a batch emitted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import LeadRow, ScoreChangeRow, StageChangeRow
from leadpipe.scoring.adapters.orm import outbox as scoring_outbox
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.shared.envelope import from_record, unwrap, wrap
from leadpipe.shared.events import InboundEvent, Stage, StageChanged
from leadpipe.shared.kafka import make_producer
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.events import form_submitted
from tests.integration.kafka_helpers import TopicReader

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


@dataclass(frozen=True)
class DeliveredRecord:
    """A record as the consume loop hands it over (value and headers as Kafka carries them)."""

    value: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str = "lead.events.v1"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


@dataclass
class Commits:
    count: int = 0

    def __call__(self) -> None:
        self.count += 1


def demo_request(email: str) -> InboundEvent:
    return form_submitted(
        email,
        traits={"title": "Geschäftsführer", "company": "Muster GmbH"},
        properties={"budget": "yes"},
    )


def delivered(event: InboundEvent) -> DeliveredRecord:
    cloud_event = wrap(event, "/test")
    return DeliveredRecord(cloud_event.data, cloud_event.headers(), key=event.lead_key.encode())


@dataclass(frozen=True)
class LeadRecords:
    engagement: int
    stage: str
    score_changes: int
    stage_changes: int
    emitted: int


async def _records(sessions: async_sessionmaker[AsyncSession], email: str) -> LeadRecords:
    async with sessions() as session:
        lead = (await session.execute(select(LeadRow).where(LeadRow.email == email))).scalar_one()
        changes = await session.scalar(
            select(func.count()).where(ScoreChangeRow.lead_id == lead.id)
        )
        moves = await session.scalar(select(func.count()).where(StageChangeRow.lead_id == lead.id))
        emitted = await session.scalar(
            select(func.count()).where(scoring_outbox.c.key == record_key(email))
        )
    return LeadRecords(lead.engagement, lead.stage, changes or 0, moves or 0, emitted or 0)


async def test_a_duplicated_event_is_applied_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@dup.example"
    event = demo_request(email)
    commits = Commits()
    handler = InboundBatchHandler(sessions, settings.topics, commits, RulesCache())
    await handler([delivered(event)])
    first = await _records(sessions, email)
    assert first == LeadRecords(30, Stage.SQL.value, score_changes=4, stage_changes=3, emitted=3)
    await handler([delivered(event), delivered(event)])
    assert await _records(sessions, email) == first
    assert commits.count == 2


async def test_outbox_relay_publishes_stage_changes_once(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@relay.example"
    producer = make_producer(settings.kafka_bootstrap, "test-relay")
    await producer.start()
    relay = OutboxRelay(sessions, scoring_outbox, producer, settings.kafka_bootstrap)
    handler = InboundBatchHandler(sessions, settings.topics, relay.wake, RulesCache())
    try:
        async with TopicReader(settings.kafka_bootstrap, settings.topics.stage_changed) as reader:
            await handler([delivered(demo_request(email))])
            while await relay.publish_pending():
                pass
            assert await relay.publish_pending() == 0
            seen = await reader.drain(2.0)
    finally:
        await producer.stop()
    mine = [
        unwrap(from_record(r.headers, r.value), StageChanged)
        for r in seen
        if r.key == record_key(email).encode()
    ]
    assert [(c.from_stage, c.to_stage) for c in mine] == [
        (None, Stage.LEAD),
        (Stage.LEAD, Stage.MQL),
        (Stage.MQL, Stage.SQL),
    ]
    assert len({c.event_id for c in mine}) == 3


async def test_relay_restarted_after_kafka_acked_does_not_publish_twice(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A relay killed between Kafka's acknowledgement and its own commit left rows unmarked;
    the next relay finds them on the topic and does not send them again."""
    email = f"{uuid.uuid4().hex[:10]}@crash.example"
    producer = make_producer(settings.kafka_bootstrap, "test-relay-crash")
    await producer.start()
    relay = OutboxRelay(sessions, scoring_outbox, producer, settings.kafka_bootstrap)
    handler = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())
    try:
        async with TopicReader(settings.kafka_bootstrap, settings.topics.stage_changed) as reader:
            await handler([delivered(demo_request(email))])
            while await relay.publish_pending():
                pass
            # Undo the relay's commit, as if it had died right after Kafka acknowledged.
            async with sessions() as session, session.begin():
                await session.execute(
                    update(scoring_outbox)
                    .where(scoring_outbox.c.key == record_key(email))
                    .values(published_at=None, published_partition=None, published_offset=None)
                )
            assert await relay.reconcile() >= 3
            async with sessions() as session:
                unmarked = await session.scalar(
                    select(func.count()).where(
                        scoring_outbox.c.key == record_key(email),
                        scoring_outbox.c.published_at.is_(None),
                    )
                )
            assert unmarked == 0
            while await relay.publish_pending():
                pass
            seen = await reader.drain(2.0)
    finally:
        await producer.stop()
    mine = [r for r in seen if r.key == record_key(email).encode()]
    assert len(mine) == 3
    assert len({dict(r.headers)["ce_id"] for r in mine}) == 3


async def test_relay_records_where_each_event_landed(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The relay resumes its duplicate check from the positions it stored: each must be the
    record's own partition and offset, also when many records share one produce batch."""
    emails = [f"{uuid.uuid4().hex[:10]}@placed.example" for _ in range(20)]
    producer = make_producer(settings.kafka_bootstrap, "test-relay-placed")
    await producer.start()
    relay = OutboxRelay(sessions, scoring_outbox, producer, settings.kafka_bootstrap)
    handler = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())
    try:
        async with TopicReader(settings.kafka_bootstrap, settings.topics.stage_changed) as reader:
            await handler([delivered(demo_request(email)) for email in emails])
            while await relay.publish_pending():
                pass
            seen = await reader.drain(2.0)
    finally:
        await producer.stop()
    on_kafka = {
        dict(r.headers)["ce_id"].decode(): (r.partition, r.offset)
        for r in seen
        if r.key is not None and r.key.decode() in {record_key(e) for e in emails}
    }
    async with sessions() as session:
        stored = {
            row.event_id: (row.published_partition, row.published_offset)
            for row in await session.execute(
                select(
                    scoring_outbox.c.event_id,
                    scoring_outbox.c.published_partition,
                    scoring_outbox.c.published_offset,
                ).where(scoring_outbox.c.key.in_([record_key(e) for e in emails]))
            )
        }
    assert len(on_kafka) == 3 * len(emails)
    assert stored == on_kafka

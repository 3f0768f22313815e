"""Pruning the outbox and the processed ids against real PostgreSQL: what goes, and what must
stay for exactly-once to hold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import ProcessedEventRow, outbox
from leadpipe.shared.bulk import table_of
from leadpipe.shared.retention import Retention, prune

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RETENTION = Retention(outbox=7 * DAY, processed=8 * DAY)


def _row(
    topic: str, published_days_ago: float | None, partition: int, offset: int
) -> dict[str, object]:
    published = published_days_ago is not None
    return {
        "event_id": str(uuid.uuid4()),
        "topic": topic,
        "key": "lead@firma.example",
        "headers": [],
        "payload": b"{}",
        "published_at": NOW - published_days_ago * DAY if published_days_ago is not None else None,
        "published_partition": partition if published else None,
        "published_offset": offset if published else None,
    }


async def test_published_outbox_rows_go_after_the_retention_but_each_partitions_newest_stays(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    topic = f"retention-{uuid.uuid4().hex[:8]}"
    rows = {
        "old, partition 0": _row(topic, 30, 0, 10),
        "old, partition 0's newest": _row(topic, 29, 0, 11),
        "old, partition 1's only one": _row(topic, 30, 1, 5),
        "recent, partition 2": _row(topic, 1, 2, 3),
        "recent, partition 2's newest": _row(topic, 1, 2, 4),
        "never published": _row(topic, None, 0, 0),
    }
    async with sessions() as session, session.begin():
        await session.execute(insert(outbox), list(rows.values()))

    deleted = await prune(sessions, outbox, table_of(ProcessedEventRow), RETENTION, NOW)

    async with sessions() as session:
        kept = set(await session.scalars(select(outbox.c.event_id).where(outbox.c.topic == topic)))
    assert {name for name, row in rows.items() if row["event_id"] in kept} == {
        "old, partition 0's newest",
        "old, partition 1's only one",
        "recent, partition 2",
        "recent, partition 2's newest",
        "never published",
    }
    assert deleted["outbox"] >= 1


async def test_processed_ids_go_once_kafka_cannot_deliver_their_events_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    processed = table_of(ProcessedEventRow)
    old, recent = f"old-{uuid.uuid4()}", f"recent-{uuid.uuid4()}"
    async with sessions() as session, session.begin():
        await session.execute(
            insert(processed),
            [
                {"event_id": old, "processed_at": NOW - 9 * DAY},
                {"event_id": recent, "processed_at": NOW - 7 * DAY},
            ],
        )

    await prune(sessions, outbox, processed, RETENTION, NOW)
    async with sessions() as session:
        left = set(
            await session.scalars(
                select(processed.c.event_id).where(processed.c.event_id.in_([old, recent]))
            )
        )
    assert left == {recent}

    # Topics that keep their records for good: an id may be needed for good.
    async with sessions() as session, session.begin():
        await session.execute(
            insert(processed), [{"event_id": old, "processed_at": NOW - 900 * DAY}]
        )
    kept_for_good = Retention.of(outbox_days=7, topic_retention_ms=-1)
    assert "processed_events" not in await prune(sessions, outbox, processed, kept_for_good, NOW)
    async with sessions() as session:
        assert await session.scalar(select(processed.c.event_id).where(processed.c.event_id == old))


def test_processed_ids_outlive_the_topic_retention_by_a_day() -> None:
    week_ms = 7 * 24 * 3600 * 1000
    assert Retention.of(outbox_days=3, topic_retention_ms=week_ms) == Retention(
        outbox=3 * DAY, processed=8 * DAY
    )

"""Keeping the bookkeeping tables of a consuming service bounded: published outbox rows and the
ids of processed events would otherwise grow with every event for as long as it runs.

What may go, and why it is safe:
- An outbox row once it is published and older than the outbox retention. The newest
  published row of each topic partition stays, whatever its age: the relay's duplicate check
  resumes reading Kafka after it, and without it would read the topic from the beginning.
- A processed event id once Kafka no longer holds the topic's records of that age (the topic
  retention, plus a day): no consumer can be handed that event again. With unlimited topic
  retention the ids stay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.shared.periodic import run_every

log = logging.getLogger(__name__)

# Beyond the topic's retention: the broker deletes whole log segments, a little late.
PROCESSED_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Retention:
    outbox: timedelta
    processed: timedelta | None  # None: kept for good (the topics keep their records for good)

    @classmethod
    def of(cls, outbox_days: int, topic_retention_ms: int) -> Retention:
        processed = (
            None
            if topic_retention_ms < 0
            else timedelta(milliseconds=topic_retention_ms) + PROCESSED_MARGIN
        )
        return cls(outbox=timedelta(days=outbox_days), processed=processed)


async def prune_published_outbox(session: AsyncSession, outbox: Table, older_than: datetime) -> int:
    """Delete outbox rows published before ``older_than``, except each partition's newest."""
    result = await session.execute(
        text(
            f"DELETE FROM {outbox.fullname} WHERE published_at < :older_than"
            " AND id NOT IN (SELECT DISTINCT ON (topic, published_partition) id"
            f" FROM {outbox.fullname} WHERE published_offset IS NOT NULL"
            " ORDER BY topic, published_partition, published_offset DESC)"
        ),
        {"older_than": older_than},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_processed_ids(session: AsyncSession, processed: Table, older_than: datetime) -> int:
    """Delete the ids of events processed before ``older_than``."""
    result = await session.execute(
        text(f"DELETE FROM {processed.fullname} WHERE processed_at < :older_than"),
        {"older_than": older_than},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Table,
    processed: Table,
    retention: Retention,
    now: datetime,
) -> dict[str, int]:
    """One pass over both tables, each in its own transaction; returns the rows deleted."""
    deleted = {}
    async with sessions() as session, session.begin():
        deleted["outbox"] = await prune_published_outbox(session, outbox, now - retention.outbox)
    if retention.processed is not None:
        async with sessions() as session, session.begin():
            deleted["processed_events"] = await prune_processed_ids(
                session, processed, now - retention.processed
            )
    return deleted


async def prune_forever(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Table,
    processed: Table,
    retention: Retention,
    interval_s: float = 3600.0,
) -> None:
    """Prune once an hour, for as long as the service runs."""

    async def prune_now() -> None:
        deleted = await prune(sessions, outbox, processed, retention, datetime.now(UTC))
        if any(deleted.values()):
            log.info("bookkeeping rows pruned", extra={"rows": deleted})

    await run_every("pruning bookkeeping rows", interval_s, prune_now)

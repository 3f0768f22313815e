"""Transactional outbox: events are written in the same transaction as the state they describe,
then relayed to Kafka.

The relay selects rows that are still unpublished rather than rows past a remembered serial id:
transactions commit out of order, so a cursor on the id could skip a row that became visible
late. ``FOR UPDATE SKIP LOCKED`` lets several relays share one table without publishing a row
twice in the normal case; consumers de-duplicate by event id for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.shared.envelope import CloudEvent

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in one service's schema."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )


async def enqueue(
    session: AsyncSession, table: Table, topic: str, key: str, event: CloudEvent
) -> None:
    """Add an event to the outbox inside the caller's transaction."""
    await session.execute(
        insert(table).values(
            event_id=event.id,
            topic=topic,
            key=key,
            headers=[[name, value.decode()] for name, value in event.headers()],
            payload=event.data,
        )
    )


class OutboxRelay:
    """Publishes outbox rows to Kafka: at once when woken after a commit, and on a slow poll as
    the safety net for rows whose publishing was interrupted (a crash, a broker outage)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._table = table
        self._producer = producer
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Call after committing a transaction that enqueued events."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.publish_pending() == self._batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "outbox relay failed; retrying", extra={"table": self._table.fullname}
                )
                await asyncio.sleep(self._poll_interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        table = self._table
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.c.id, table.c.topic, table.c.key, table.c.headers, table.c.payload)
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    row.topic,
                    value=row.payload,
                    key=row.key.encode(),
                    headers=[(name, value.encode()) for name, value in row.headers],
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            await session.execute(
                update(table)
                .where(table.c.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
        return len(rows)

"""Transactional outbox: events are written in the same transaction as the state they describe,
then relayed to Kafka.

The relay selects rows that are still unpublished rather than rows past a remembered serial id:
transactions commit out of order, so a cursor on the id could skip a row that became visible
late. ``FOR UPDATE SKIP LOCKED`` lets several relays share one table.

A relay stopped between Kafka's acknowledgement and its own commit leaves rows that are on
Kafka but not marked published. Before it publishes after a start or a failure, the relay
reconciles: it reads each topic from the last offset it recorded to the end and marks the rows
it finds there, so no event id reaches a topic twice. Consumers de-duplicate by event id anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    cast,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.shared.envelope import CloudEvent
from leadpipe.shared.kafka import Outgoing, records_to_end, send_all
from leadpipe.shared.periodic import run_every

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
        # Where Kafka put the event: the relay resumes its duplicate check from here.
        Column("published_partition", Integer),
        Column("published_offset", BigInteger),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_published_position", "topic", "published_partition", "published_offset"),
    )


# The columns a service writes; the others are the relay's.
OUTBOX_COLUMNS = ("event_id", "topic", "key", "headers", "payload")


class OutboxRow(NamedTuple):
    """One outbox row as services write it, in the order of :data:`OUTBOX_COLUMNS` (what
    ``Connection.copy`` takes); ``headers`` as :func:`encode_headers` writes them."""

    event_id: str
    topic: str
    key: str
    headers: str
    payload: bytes


def encode_headers(headers: Iterable[tuple[str, str | bytes]]) -> str:
    """Kafka headers as the outbox stores them: JSON text of ``[name, value]`` pairs."""
    return orjson.dumps(
        [[name, value.decode() if isinstance(value, bytes) else value] for name, value in headers]
    ).decode()


def decode_headers(headers: str) -> list[tuple[str, bytes]]:
    """The Kafka headers :func:`encode_headers` stored."""
    return [(name, value.encode()) for name, value in orjson.loads(headers)]


def outbox_row(topic: str, key: str, event: CloudEvent) -> OutboxRow:
    return OutboxRow(event.id, topic, key, encode_headers(event.headers()), event.data)


async def enqueue(
    session: AsyncSession, table: Table, topic: str, key: str, event: CloudEvent
) -> None:
    """Add an event to the outbox inside the caller's transaction."""
    row = outbox_row(topic, key, event)
    values: dict[str, object] = dict(zip(OUTBOX_COLUMNS, row, strict=True))
    # The headers are JSON text already: cast, not encoded a second time by the JSONB type.
    values["headers"] = cast(literal(row.headers, Text()), JSONB)
    await session.execute(insert(table).values(values))


class OutboxRelay:
    """Publishes outbox rows to Kafka: at once when woken after a commit, and on a slow poll as
    the safety net for rows whose publishing was interrupted (a crash, a broker outage)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        producer: AIOKafkaProducer,
        bootstrap: str,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._table = table
        self._producer = producer
        self._bootstrap = bootstrap
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._reconciled = False
        # Headers as text, parsed with orjson: the driver's JSONB codec parses with the
        # standard library's json, which cost more than the rest of a row (measured).
        self._pending = text(
            f"SELECT id, topic, key, headers::TEXT, payload FROM {table.fullname}"
            " WHERE published_at IS NULL ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
        )

    def wake(self) -> None:
        """Call after committing a transaction that enqueued events."""
        self._wake.set()

    async def run(self) -> None:
        self._reconciled = False
        await run_every(
            "outbox relay",
            self._poll_interval_s,
            self._relay,
            wake=self._wake,
            after_failure_s=self._poll_interval_s,
            extra={"table": self._table.fullname},
        )

    async def _relay(self) -> bool:
        """One batch, after reconciling first when starting or after a failure; True while
        the batch was full."""
        if not self._reconciled:
            await self.reconcile()
            self._reconciled = True
        try:
            return await self.publish_pending() == self._batch_size
        except Exception:
            self._reconciled = False
            raise

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published."""
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(self._pending, {"limit": self._batch_size})).all()
            if not rows:
                return 0
            placed = await send_all(
                self._producer,
                [
                    Outgoing(
                        topic,
                        key.encode(),
                        payload,
                        decode_headers(headers),
                    )
                    for _, topic, key, headers, payload in rows
                ],
            )
            await self._mark_published(
                session,
                [(row[0], at.partition, at.offset) for row, at in zip(rows, placed, strict=True)],
            )
        return len(rows)

    async def reconcile(self) -> int:
        """Mark unpublished rows that Kafka already holds; returns how many were found."""
        table = self._table
        async with self._sessions() as session, session.begin():
            unpublished = (
                await session.execute(
                    select(table.c.id, table.c.event_id, table.c.topic)
                    .where(table.c.published_at.is_(None))
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not unpublished:
                return 0
            wanted = {row.event_id: row.id for row in unpublished}
            found: list[tuple[int, int, int]] = []
            for topic in {row.topic for row in unpublished}:
                marks = (
                    await session.execute(
                        select(table.c.published_partition, func.max(table.c.published_offset))
                        .where(table.c.topic == topic, table.c.published_offset.is_not(None))
                        .group_by(table.c.published_partition)
                    )
                ).all()
                resume_at = {int(partition): int(offset) + 1 for partition, offset in marks}
                async for event_id, partition, offset in self._events_on(topic, resume_at):
                    if event_id in wanted:
                        found.append((wanted.pop(event_id), partition, offset))
            await self._mark_published(session, found)
        if found:
            log.warning(
                "outbox rows were already on Kafka; marked, not sent again",
                extra={"table": table.fullname, "rows": len(found)},
            )
        return len(found)

    async def _events_on(
        self, topic: str, resume_at: dict[int, int]
    ) -> AsyncIterator[tuple[str, int, int]]:
        """(event id, partition, offset) of each record on ``topic`` from ``resume_at`` (per
        partition; the beginning where absent) to the current end."""
        async for record in records_to_end(self._bootstrap, topic, resume_at=resume_at):
            headers = dict(record.headers)
            if "ce_id" in headers:
                yield headers["ce_id"].decode(), record.partition, record.offset

    async def _mark_published(
        self, session: AsyncSession, placed: list[tuple[int, int, int]]
    ) -> None:
        if not placed:
            return
        # One statement for the whole batch: an executemany would cost PostgreSQL one
        # execution per row, on the same database the consumers are writing to.
        ids, partitions, offsets = zip(*placed, strict=True)
        await session.execute(
            text(
                f"UPDATE {self._table.fullname} AS o SET published_at = :now,"
                " published_partition = p.part, published_offset = p.pos"
                " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:partitions AS INTEGER[]),"
                " CAST(:offsets AS BIGINT[])) AS p(row_id, part, pos)"
                " WHERE o.id = p.row_id"
            ),
            {
                "now": datetime.now(UTC),
                "ids": list(ids),
                "partitions": list(partitions),
                "offsets": list(offsets),
            },
        )

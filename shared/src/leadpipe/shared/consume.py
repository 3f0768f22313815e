"""The consume loop every service runs: fetch a batch, apply it in one database transaction,
and only then commit the Kafka offsets (at-least-once in, exactly-once effect)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from time import monotonic
from typing import Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception_type, stop_never, wait_random_exponential

from leadpipe.shared.envelope import EnvelopeError, from_record, unwrap
from leadpipe.shared.events import WireModel

log = logging.getLogger(__name__)


class Record(Protocol):
    """The parts of a consumed Kafka record that leadpipe reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


M = TypeVar("M", bound=WireModel)
BatchHandler = Callable[[Sequence[Record]], Awaitable[None]]


@dataclass
class ConsumerHealth:
    """What readiness reports: the loop is alive and has talked to Kafka recently."""

    last_poll: float = field(default_factory=monotonic)
    last_error: str | None = None
    processed: int = 0

    def healthy(self, max_silence_s: float = 30.0) -> bool:
        return monotonic() - self.last_poll < max_silence_s


async def consume_forever(
    consumer: AIOKafkaConsumer,
    handle_batch: BatchHandler,
    health: ConsumerHealth,
    *,
    max_records: int = 500,
    poll_timeout_ms: int = 100,
) -> None:
    """Run until cancelled. ``handle_batch`` must apply the whole batch in one transaction and
    be idempotent per event: after a crash the same records are delivered again."""
    while True:
        batches = await consumer.getmany(timeout_ms=poll_timeout_ms, max_records=max_records)
        health.last_poll = monotonic()
        records = [record for partition in batches.values() for record in partition]
        if not records:
            continue
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_random_exponential(multiplier=0.2, max=10.0),
            stop=stop_never,
            reraise=True,
        ):
            with attempt:
                try:
                    await handle_batch(records)
                except Exception as exc:
                    health.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    log.exception("batch failed; it will be retried", extra={"size": len(records)})
                    raise
        health.last_error = None
        health.processed += len(records)
        await consumer.commit(
            {
                TopicPartition(tp.topic, tp.partition): recs[-1].offset + 1
                for tp, recs in batches.items()
            }
        )
        # Give the event loop a turn so HTTP and the relay are not starved under load.
        await asyncio.sleep(0)


EventHandler = Callable[[AsyncSession, M], Awaitable[None]]


class TransactionalBatchHandler(Generic[M]):
    """Applies one batch of records of one event model in one database transaction, then calls
    ``on_commit`` (the outbox relay's wake-up) so that what the batch emitted goes out at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        model: type[M],
        handle: EventHandler[M],
        on_commit: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._model = model
        self._handle = handle
        self._on_commit = on_commit

    async def __call__(self, records: Sequence[Record]) -> None:
        async with self._sessions() as session, session.begin():
            for record in records:
                try:
                    event = unwrap(from_record(record.headers, record.value), self._model)
                except EnvelopeError as exc:
                    # Not retried: decoding again cannot succeed.
                    log.error(
                        "undecodable event skipped",
                        extra={
                            "topic": record.topic,
                            "partition": record.partition,
                            "offset": record.offset,
                            "error": str(exc),
                        },
                    )
                    continue
                await self._handle(session, event)
        self._on_commit()

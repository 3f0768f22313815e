"""The consume loop every service runs: fetch a batch, apply it in one database transaction,
and only then commit the Kafka offsets (at-least-once in, exactly-once effect)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from time import monotonic

from aiokafka import AIOKafkaConsumer, TopicPartition

from leadpipe.shared.dead_letters import DeadLetterQueue, UndecodableRecord, is_transient
from leadpipe.shared.records import Record

log = logging.getLogger(__name__)


BatchHandler = Callable[[Sequence[Record]], Awaitable[None]]


@dataclass
class ConsumerHealth:
    """What readiness reports: the loop is alive, has polled recently, and moves forward
    whenever there is something to read (a consumer can stay stuck after a broker restart)."""

    last_poll: float = field(default_factory=monotonic)
    last_progress: float = field(default_factory=monotonic)
    last_error: str | None = None
    processed: int = 0

    def healthy(self, max_silence_s: float = 30.0) -> bool:
        return monotonic() - self.last_poll < max_silence_s

    def stuck(self, lag: int, max_standstill_s: float = 60.0) -> bool:
        """Records are waiting but none was applied for ``max_standstill_s``."""
        return lag > 0 and monotonic() - self.last_progress > max_standstill_s


async def consume_forever(
    consumer: AIOKafkaConsumer,
    handle_batch: BatchHandler,
    health: ConsumerHealth,
    dead_letters: DeadLetterQueue,
    *,
    max_records: int = 500,
    poll_timeout_ms: int = 100,
    max_attempts: int = 5,
) -> None:
    """Run until cancelled. ``handle_batch`` must apply the whole batch in one transaction and
    be idempotent per event: after a crash the same records are delivered again."""
    while True:
        batches = await consumer.getmany(timeout_ms=poll_timeout_ms, max_records=max_records)
        health.last_poll = monotonic()
        records = [record for partition in batches.values() for record in partition]
        if not records:
            continue
        await apply_batch(records, handle_batch, health, dead_letters, max_attempts=max_attempts)
        health.processed += len(records)
        health.last_progress = monotonic()
        await consumer.commit(
            {
                TopicPartition(tp.topic, tp.partition): recs[-1].offset + 1
                for tp, recs in batches.items()
            }
        )
        # Give the event loop a turn so HTTP and the relay are not starved under load.
        await asyncio.sleep(0)


async def apply_batch(
    records: Sequence[Record],
    handle_batch: BatchHandler,
    health: ConsumerHealth,
    dead_letters: DeadLetterQueue,
    *,
    max_attempts: int,
) -> None:
    """Apply ``records`` as one batch. When the batch keeps failing for a reason that is not
    transient, apply the records one by one and dead-letter each one that still fails, so one
    poison event cannot hold up its partition."""
    if await _attempt(handle_batch, records, health, max_attempts) is None:
        return
    for record in records:
        failure = await _attempt(handle_batch, [record], health, max_attempts)
        if failure is not None:
            error, attempts = failure
            await dead_letters.send(record, error, attempts)


async def _attempt(
    handle_batch: BatchHandler, records: Sequence[Record], health: ConsumerHealth, max_attempts: int
) -> tuple[str, int] | None:
    """None once applied; else the last error and how many attempts it took to give up.
    Transient failures are retried without limit."""
    attempts = 0
    while True:
        try:
            await handle_batch(records)
        except UndecodableRecord as exc:
            return f"undecodable: {exc}", attempts + 1
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            health.last_error = error
            attempts += 1
            transient = is_transient(exc)
            if not transient and attempts >= max_attempts:
                return error, attempts
            log.warning(
                "batch failed; retrying",
                extra={
                    "size": len(records),
                    "attempt": attempts,
                    "transient": transient,
                    "error": error[:300],
                },
            )
            await asyncio.sleep(min(10.0, 0.1 * 2 ** min(attempts, 7)) * random.uniform(0.5, 1.0))
        else:
            health.last_error = None
            return None

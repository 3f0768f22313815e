"""The consume loop every service runs: fetch a batch, apply it in one database transaction,
and only then commit the Kafka offsets (at-least-once in, exactly-once effect).

How failures are handled is written up in docs/consuming.md."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from time import monotonic
from typing import NamedTuple, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from leadpipe.shared.dead_letters import UndecodableRecord, failure_kind, failure_text, is_transient
from leadpipe.shared.rebalance import BatchGate
from leadpipe.shared.records import Record

log = logging.getLogger(__name__)


BatchHandler = Callable[[Sequence[Record]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

# Attempts of one record that fails for a reason that is not transient. Waiting cannot help
# such a failure, so the attempts follow each other at once; the second one still catches a
# race that resolves itself (a unique violation from a concurrent writer of the same row).
MAX_ATTEMPTS = 2


class DeadLetters(Protocol):
    async def send(self, record: Record, error: str, attempts: int) -> None: ...


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


def backoff_s(attempt: int) -> float:
    """The pause before retrying after the ``attempt``-th transient failure in a row."""
    return min(10.0, 0.1 * 2.0 ** min(attempt, 7)) * random.uniform(0.5, 1.0)


async def consume_forever(
    consumer: AIOKafkaConsumer,
    handle_batch: BatchHandler,
    health: ConsumerHealth,
    dead_letters: DeadLetters,
    *,
    gate: BatchGate | None = None,
    max_records: int = 500,
    poll_timeout_ms: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Run until cancelled. ``handle_batch`` must apply the whole batch in one transaction and
    be idempotent per event: after a crash the same records are delivered again.

    ``gate`` is the consumer's rebalance listener: a rebalance waits for the batch being
    applied (and its commit), and offsets are committed only for partitions still owned."""
    gate = gate or BatchGate()
    while True:
        batches = await consumer.getmany(timeout_ms=poll_timeout_ms, max_records=max_records)
        health.last_poll = monotonic()
        async with gate.applying() as abandoned:
            owned = consumer.assignment()
            # Records fetched just before their partition was revoked belong to its next owner.
            batches = {tp: recs for tp, recs in batches.items() if tp in owned and recs}
            records = [record for partition in batches.values() for record in partition]
            if not records:
                continue
            await apply_batch(
                records, handle_batch, health, dead_letters, max_attempts=max_attempts, sleep=sleep
            )
            health.processed += len(records)
            health.last_progress = monotonic()
            still_owned = consumer.assignment() - abandoned
            offsets = {
                TopicPartition(tp.topic, tp.partition): recs[-1].offset + 1
                for tp, recs in batches.items()
                if tp in still_owned
            }
            await _commit(consumer, offsets)
        # Give the event loop a turn so HTTP and the relay are not starved under load.
        await asyncio.sleep(0)


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as exc:
        # The group moved on without this member: the partitions' next owner gets the records
        # again and finds their event ids processed, so losing this commit changes nothing.
        log.warning("offset commit refused after a rebalance", extra={"error": str(exc)[:300]})


async def apply_batch(
    records: Sequence[Record],
    handle_batch: BatchHandler,
    health: ConsumerHealth,
    dead_letters: DeadLetters,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Apply ``records``, in order. Transient failures are retried with back-off, however
    long they last. A failure that is not transient splits the batch in halves at once, down
    to the record that fails alone; that record is tried ``max_attempts`` times without
    waiting and then dead-lettered, and the rest of the batch is applied."""
    failure = await _apply_retrying_transient(handle_batch, records, health, sleep)
    if failure is None:
        return
    if len(records) > 1:
        middle = len(records) // 2
        for half in (records[:middle], records[middle:]):
            await apply_batch(
                half, handle_batch, health, dead_letters, max_attempts=max_attempts, sleep=sleep
            )
        return
    attempts = 1
    while not failure.undecodable and attempts < max_attempts:
        failure = await _apply_retrying_transient(handle_batch, records, health, sleep)
        if failure is None:
            return
        attempts += 1
    await dead_letters.send(records[0], failure.error, attempts)


class Failure(NamedTuple):
    error: str
    undecodable: bool


async def _apply_retrying_transient(
    handle_batch: BatchHandler, records: Sequence[Record], health: ConsumerHealth, sleep: Sleep
) -> Failure | None:
    """None once applied; else why it failed for a reason that is not transient."""
    transient_failures = 0
    while True:
        try:
            await handle_batch(records)
        except UndecodableRecord as exc:
            return Failure(f"undecodable: {exc}", undecodable=True)
        except Exception as exc:
            error = failure_text(exc)
            health.last_error = error
            transient = is_transient(exc)
            log.warning(
                "batch failed; retrying" if transient else "batch failed; isolating the cause",
                extra={
                    "size": len(records),
                    "transient": transient,
                    "attempt": transient_failures + 1,
                    "error": failure_kind(exc),
                },
            )
            if not transient:
                return Failure(error, undecodable=False)
            transient_failures += 1
            await sleep(backoff_s(transient_failures))
        else:
            health.last_error = None
            return None

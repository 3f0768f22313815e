"""A consumer joining the group while another is mid-batch: the batch finishes and commits
before its partitions move, so no record is applied twice and none is lost."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from leadpipe.shared.consume import ConsumerHealth, consume_forever
from leadpipe.shared.dead_letters import DeadLetterQueue
from leadpipe.shared.kafka import ensure_topics, make_consumer, make_producer
from leadpipe.shared.rebalance import BatchGate
from leadpipe.shared.records import Record
from leadpipe.shared.settings import Settings

pytestmark = pytest.mark.integration

PARTITIONS = 4


class WatchedGate(BatchGate):
    """The listener under test, telling the test when a revocation begins."""

    def __init__(self) -> None:
        super().__init__()
        self.revoking = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            self.revoking.set()
        await super().on_partitions_revoked(revoked)


async def test_a_joining_consumer_neither_repeats_nor_loses_the_batch_in_flight(
    settings: Settings,
) -> None:
    run = uuid.uuid4().hex[:8]
    topic, group = f"{settings.topic_prefix}rebalance-{run}", f"test-rebalance-{run}"
    await ensure_topics(
        settings.kafka_bootstrap,
        [topic],
        partitions=PARTITIONS,
        replication_factor=1,
        retention_ms=3_600_000,
    )
    producer = make_producer(settings.kafka_bootstrap, "test-rebalance")
    await producer.start()
    applied: Counter[tuple[int, int]] = Counter()
    first_gate = WatchedGate()
    first_batch_started = asyncio.Event()

    async def first_handler(records: Sequence[Record]) -> None:
        if not first_batch_started.is_set():
            first_batch_started.set()
            # Still applying when the rebalance begins, and for a while after.
            await asyncio.wait_for(first_gate.revoking.wait(), 60)
            await asyncio.sleep(1.0)
        applied.update((r.partition, r.offset) for r in records)

    async def second_handler(records: Sequence[Record]) -> None:
        applied.update((r.partition, r.offset) for r in records)

    def loop(consumer: AIOKafkaConsumer, handler: object, gate: BatchGate) -> asyncio.Task[None]:
        dead_letters = DeadLetterQueue(producer, settings.topics.lead_events_dlq)
        return asyncio.create_task(
            consume_forever(consumer, handler, ConsumerHealth(), dead_letters, gate=gate)  # type: ignore[arg-type]
        )

    sent = 0

    async def send(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            await producer.send_and_wait(topic, b"{}", partition=sent % PARTITIONS)
            sent += 1

    first = make_consumer(settings.kafka_bootstrap, group, [topic], listener=first_gate)
    second_gate = BatchGate()
    second = make_consumer(settings.kafka_bootstrap, group, [topic], listener=second_gate)
    tasks: list[asyncio.Task[None]] = []
    try:
        await send(40)
        await first.start()
        tasks.append(loop(first, first_handler, first_gate))
        await asyncio.wait_for(first_batch_started.wait(), 60)
        await second.start()  # joins the group: a rebalance while the first batch is applied
        tasks.append(loop(second, second_handler, second_gate))
        async with asyncio.timeout(60):
            while len(second.assignment()) == 0 or sum(applied.values()) < 40:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await send(40)  # after the rebalance, shared by both consumers
        async with asyncio.timeout(60):
            while len(applied) < 80:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # time for any repeat to show
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first.stop()
        await second.stop()
        await producer.stop()
    assert first_gate.revoking.is_set()
    assert all(task.exception() is None for task in tasks if not task.cancelled())
    assert len(applied) == 80
    assert [key for key, count in applied.items() if count > 1] == []

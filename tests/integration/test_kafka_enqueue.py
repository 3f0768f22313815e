"""Many events handed to the producer at once: each on the partition a plain send would give
its key, all of them once, in order, even when a partition's share fills several batches."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from leadpipe.shared.envelope import CloudEvent
from leadpipe.shared.kafka import enqueue, enqueue_all, ensure_topics, make_producer
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration

EVENTS = 120
VALUE_BYTES = 20_000  # 120 × 20 KB: each of 3 partitions gets more than one 512 KB batch


def event(n: int) -> CloudEvent:
    return CloudEvent(
        id=f"evt-{n}",
        type="io.leadpipe.test.v1",
        source="/tests",
        time=datetime.now(UTC),
        data=f"{n:06d}".encode().ljust(VALUE_BYTES, b"."),
        traceparent=f"00-{'1' * 32}-{'2' * 16}-01",
    )


async def test_enqueued_together_is_placed_as_sent_one_by_one(settings: Settings) -> None:
    topic = f"{settings.topic_prefix}enqueue-{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        settings.kafka_bootstrap, [topic], partitions=3, replication_factor=1, retention_ms=60_000
    )
    keyed = [(f"lead-{n % 40}@example.com", event(n)) for n in range(EVENTS)]
    producer = make_producer(settings.kafka_bootstrap, client_id="test-enqueue")
    await producer.start()
    try:
        async with TopicReader(settings.kafka_bootstrap, topic) as reader:
            batches = await enqueue_all(producer, topic, keyed)
            await asyncio.gather(*batches)
            assert len(batches) > 3  # a partition's share did not fit one batch
            one_by_one = [await enqueue(producer, topic, key, sent) for key, sent in keyed]
            expected = {
                key: (await ack).partition for (key, _), ack in zip(keyed, one_by_one, strict=True)
            }
            records: list[ConsumerRecord[bytes, bytes]] = []
            while len(records) < 2 * EVENTS:
                records.extend(await reader.drain(1.0))
    finally:
        await producer.stop()
    by_key: dict[str, list[str]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None and record.value is not None
        assert record.partition == expected[record.key.decode()]
        by_key.setdefault(record.key.decode(), []).append(record.value[:6].decode())
    for key, values in by_key.items():
        sent = [f"{n:06d}" for n in range(EVENTS) if f"lead-{n % 40}@example.com" == key]
        assert values == sent + sent  # each once from enqueue_all, then once one by one, in order

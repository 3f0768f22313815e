"""Records sent at once or alone: each on the partition a plain send would give its key, at the
offset ``send_all`` reports, once and in order, even when a partition's share fills several
batches."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import ConsumerRecord

from leadpipe.shared.kafka import Outgoing, Placement, ensure_topics, make_producer, send_all
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration

RECORDS = 120
VALUE_BYTES = 20_000  # 120 × 20 KB: each of 3 partitions gets more than one 512 KB batch


async def test_records_sent_together_land_as_sent_one_by_one(settings: Settings) -> None:
    topic = f"{settings.topic_prefix}send-all-{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        settings.kafka_bootstrap, [topic], partitions=3, replication_factor=1, retention_ms=60_000
    )
    records = [
        Outgoing(
            topic,
            f"lead-{n % 40}@example.com".encode(),
            f"{n:06d}".encode().ljust(VALUE_BYTES, b"."),
            [("ce_id", f"evt-{n}".encode())],
        )
        for n in range(RECORDS)
    ]
    producer = make_producer(settings.kafka_bootstrap, client_id="test-send-all")
    await producer.start()
    try:
        async with TopicReader(settings.kafka_bootstrap, topic) as reader:
            placed = await send_all(producer, records)
            one_by_one = {record.key: (await send_all(producer, [record]))[0] for record in records}
            plain = {
                record.key: await (
                    await producer.send(topic, value=record.value, key=record.key)
                )  # aiokafka's own default partitioner
                for record in records
            }
            read: list[ConsumerRecord[bytes, bytes]] = []
            while len(read) < 3 * RECORDS:
                read.extend(await reader.drain(1.0))
    finally:
        await producer.stop()
    stored = {Placement(record.partition, record.offset): record for record in read}
    assert len(stored) == len(read)
    for record, at in zip(records, placed, strict=True):
        assert at.partition == plain[record.key].partition  # where a plain send puts the key
        assert one_by_one[record.key].partition == plain[record.key].partition
        assert stored[at].value == record.value  # the offset reported is the record's own
        assert stored[at].key == record.key
    for key in one_by_one:
        offsets = [
            at.offset for record, at in zip(records, placed, strict=True) if record.key == key
        ]
        assert offsets == sorted(offsets)  # one key's records keep their order

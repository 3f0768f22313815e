"""Concurrent callers sharing their sends (`GroupedSends`): each learns where its own records
landed, a key's records keep the order they were handed over in, a caller that stopped
waiting before its group left does not have its records sent, and a failed send reaches every
caller of its group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from leadpipe.shared.kafka import (
    GroupedSends,
    Outgoing,
    Placement,
    ensure_topics,
    make_producer,
)
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration

KEYS = 20
PER_KEY = 15
BROKER_LIMIT = 1024 * 1024  # the broker refuses larger records (message.max.bytes, about 1 MB)


async def _topic(settings: Settings, name: str) -> str:
    topic = f"{settings.topic_prefix}{name}-{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        settings.kafka_bootstrap, [topic], partitions=3, replication_factor=1, retention_ms=60_000
    )
    return topic


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    started = make_producer(settings.kafka_bootstrap, client_id="test-grouped-sends")
    await started.start()
    yield started
    await started.stop()


def _record(topic: str, key: int, n: int, size: int = 100) -> Outgoing:
    return Outgoing(
        topic, f"lead-{key}@example.com".encode(), f"{key}:{n}".encode().ljust(size, b"."), []
    )


def _two_callers(
    sends: GroupedSends, first: Outgoing, second: Outgoing
) -> tuple[asyncio.Task[list[Placement]], asyncio.Task[list[Placement]]]:
    """Two callers handing over a record each in the same turn of the event loop: one group."""
    return asyncio.create_task(sends.send([first])), asyncio.create_task(sends.send([second]))


async def _read(settings: Settings, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    async with TopicReader(settings.kafka_bootstrap, topic, from_beginning=True) as reader:
        read: list[ConsumerRecord[bytes, bytes]] = []
        for _ in range(20):
            read.extend(await reader.drain(0.5))
            if len(read) >= count:
                break
        read.extend(await reader.drain(0.5))  # anything more than expected shows up too
        return read


async def test_concurrent_callers_each_get_their_own_placements(
    settings: Settings, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(settings, "grouped")
    sends = GroupedSends(producer)

    async def caller(key: int) -> list[tuple[Outgoing, Placement]]:
        placed: list[tuple[Outgoing, Placement]] = []
        for n in range(0, PER_KEY, 3):  # one to three records per send, in turn
            records = [_record(topic, key, m) for m in range(n, min(n + 1 + key % 3, PER_KEY))]
            placed.extend(zip(records, await sends.send(records), strict=True))
        return placed

    results = await asyncio.gather(*(caller(key) for key in range(KEYS)))
    sent = [pair for result in results for pair in result]
    read = await _read(settings, topic, len(sent))
    stored = {Placement(record.partition, record.offset): record for record in read}
    assert len(read) == len(sent)  # each record once
    for record, at in sent:
        assert stored[at].value == record.value  # the placement reported is the record's own
    for result in results:
        offsets = [at.offset for _, at in result]
        assert len({at.partition for _, at in result}) == 1  # one key, one partition
        assert offsets == sorted(offsets)  # in the order handed over


async def test_a_caller_that_stopped_waiting_before_its_group_left_is_not_sent(
    settings: Settings, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(settings, "grouped-cancel")
    sends = GroupedSends(producer)
    kept, dropped = _two_callers(sends, _record(topic, 1, 0), _record(topic, 2, 0))
    await asyncio.sleep(0)  # both handed over; their group has not left yet
    dropped.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await dropped
    read = await _read(settings, topic, 1)
    assert [record.key for record in read] == [b"lead-1@example.com"]


async def test_a_failed_send_reaches_every_caller_of_its_group(
    settings: Settings, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(settings, "grouped-fail")
    sends = GroupedSends(producer)
    fine, too_big = _two_callers(
        sends, _record(topic, 1, 0), _record(topic, 2, 0, size=BROKER_LIMIT + 1)
    )
    outcomes = await asyncio.gather(fine, too_big, return_exceptions=True)
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert await sends.send([_record(topic, 3, 0)])  # the next group goes out as usual

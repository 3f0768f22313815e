"""Kafka plumbing: the producer every service uses, consumers, topic creation."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import suppress
from functools import lru_cache

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata

from leadpipe.shared.envelope import CloudEvent

log = logging.getLogger(__name__)


BATCH_BYTES = 512 * 1024


def make_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer that waits for all in-sync replicas (acks=all)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
        # aiokafka sends one batch per partition at a time; with its 16 KB default a burst of
        # events waits about 20 records per round trip. Half the broker's 1 MB message limit
        # lets one round trip carry a whole burst (measured: 10-20x the events/s).
        max_batch_size=BATCH_BYTES,
    )


def make_consumer(bootstrap: str, group_id: str, topics: Iterable[str]) -> AIOKafkaConsumer:
    """A consumer that never commits on its own: offsets follow the database commit."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def enqueue(
    producer: AIOKafkaProducer, topic: str, key: str, event: CloudEvent
) -> asyncio.Future[RecordMetadata]:
    """Hand one event to the producer; the returned future resolves with Kafka's ack. Events
    enqueued together share round trips, without a task per event."""
    pending: asyncio.Future[RecordMetadata] = await producer.send(
        topic, value=event.data, key=key.encode(), headers=event.headers()
    )
    return pending


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """Kafka's murmur2 hash of a key, as the producer's default partitioner computes it. Pure
    Python, about 4 µs; a lead sends many events, so its key's hash is kept."""
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


async def enqueue_all(
    producer: AIOKafkaProducer, topic: str, events: Sequence[tuple[str, CloudEvent]]
) -> list[asyncio.Future[RecordMetadata]]:
    """Hand keyed events to the producer; each returned future resolves with Kafka's ack.

    A single event joins the producer's open batch for its partition, shared with other
    callers. Several go as one record batch per partition with one future per batch, which
    costs the producer about a third less CPU per event than a send each (measured). Each key
    lands on the partition the producer's default partitioner would give it."""
    if len(events) == 1:
        key, event = events[0]
        return [await enqueue(producer, topic, key, event)]
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[tuple[bytes, CloudEvent]]] = defaultdict(list)
    for key, event in events:
        encoded = key.encode()
        partition = partitions[_key_hash(encoded) % len(partitions)]
        by_partition[partition].append((encoded, event))
    acks = []
    for partition, records in by_partition.items():
        batch = producer.create_batch()
        for encoded, event in records:
            record = {"key": encoded, "value": event.data, "headers": event.headers()}
            if batch.append(timestamp=None, **record) is None:  # full: send it, start another
                acks.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(timestamp=None, **record)
        acks.append(await producer.send_batch(batch, topic, partition=partition))
    return acks


async def publish(
    producer: AIOKafkaProducer, topic: str, key: str, event: CloudEvent
) -> RecordMetadata:
    """Send one event and wait until Kafka acknowledged it."""
    return await (await enqueue(producer, topic, key, event))


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int,
    retention_ms: int,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadpipe-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs={"retention.ms": str(retention_ms)},
            )
            for name in topics
            if name not in existing
        ]
        if not wanted:
            return
        # Another service may create them at the same moment.
        with suppress(TopicAlreadyExistsError):
            await admin.create_topics(wanted)
        # Metadata for new topics reaches the partition leaders a moment later.
        await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def start_tail_reader(
    bootstrap: str, topic: str, *, from_beginning: bool = False, timeout_s: float = 15.0
) -> AIOKafkaConsumer:
    """A started consumer outside any group that reads ``topic`` from its current end (nothing
    published after this returns can be missed), or from the beginning. For tools and tests."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        for _ in range(int(timeout_s / 0.05)):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"topic {topic} has no partitions after {timeout_s:.0f} s")
        # Subscribing was only the way to learn the partitions. A manual assignment is not
        # redone (and its positions reset) when the cluster's metadata changes.
        assigned = list(consumer.assignment())
        consumer.unsubscribe()
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        for partition in assigned:
            await consumer.position(partition)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def records_to_end(
    bootstrap: str, topic: str, *, resume_at: Mapping[int, int] | None = None
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` from ``resume_at`` (offset per partition; the beginning
    where absent) up to the end the topic had when reading began, in offset order per
    partition. For tools that inspect a topic, not for consuming it."""
    reader = await start_tail_reader(bootstrap, topic, from_beginning=True)
    try:
        partitions = sorted(reader.assignment())
        ends = await reader.end_offsets(partitions)
        for tp in partitions:
            if resume_at and tp.partition in resume_at:
                reader.seek(tp, resume_at[tp.partition])
        while True:
            behind = [tp for tp in partitions if await reader.position(tp) < ends[tp]]
            if not behind:
                return
            for tp, records in (await reader.getmany(*behind, timeout_ms=500)).items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
    finally:
        await reader.stop()

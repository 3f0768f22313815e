"""Kafka plumbing: the producer every service uses, consumers, topic creation."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import suppress
from functools import lru_cache
from typing import Any, NamedTuple

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
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
        # events waits a few records per round trip. Half the broker's message limit lets one
        # round trip carry a whole burst, which multiplies the events per second.
        max_batch_size=BATCH_BYTES,
    )


def make_consumer(
    bootstrap: str,
    group_id: str,
    topics: Iterable[str],
    listener: ConsumerRebalanceListener | None = None,
) -> AIOKafkaConsumer:
    """A consumer that never commits on its own: offsets follow the database commit.
    ``listener`` hears of rebalances (the consume loop's BatchGate)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe(list(topics), listener=listener)
    return consumer


class Outgoing(NamedTuple):
    """A record to send: where to, its key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, topic: str, key: str, event: CloudEvent) -> Outgoing:
        return cls(topic, key.encode(), event.data, event.headers())


class Placement(NamedTuple):
    """Where Kafka stored a record."""

    partition: int
    offset: int


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """Kafka's murmur2 hash of a key, as the producer's default partitioner computes it. Pure
    Python, so slow per call; a lead sends many events, so its key's hash is kept."""
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


async def send_all(producer: AIOKafkaProducer, records: Sequence[Outgoing]) -> list[Placement]:
    """Send records and wait for Kafka's acks; returns where each was stored, in order.

    A single record joins the producer's open batch for its partition, shared with other
    callers. Several go as one record batch per partition (more when one fills up), with one
    future per batch: less producer CPU per record than a send each.
    Each key lands on the partition the producer's default partitioner gives it, so the records
    of one key keep their order."""
    partitions = {
        topic: sorted(await producer.partitions_for(topic))
        for topic in {record.topic for record in records}
    }
    if len(records) == 1:
        # The partition the default partitioner would choose, from the remembered key hash
        # (its own murmur2 runs in Python for every send).
        record = records[0]
        pending = await producer.send(
            record.topic,
            value=record.value,
            key=record.key,
            headers=record.headers,
            partition=_partition_of(record, partitions[record.topic]),
        )
        stored: RecordMetadata = await pending
        return [Placement(stored.partition, stored.offset)]
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)  # record indexes per partition
    for index, record in enumerate(records):
        groups[record.topic, _partition_of(record, partitions[record.topic])].append(index)
    # Each batch sent, with (record index, offset within the batch) of its records.
    sent: list[tuple[asyncio.Future[RecordMetadata], list[tuple[int, int]]]] = []
    for (topic, partition), members in groups.items():
        batch, placed = producer.create_batch(), list[tuple[int, int]]()
        for index in members:
            record = records[index]
            appended = _append(batch, record)
            if appended is None:  # full: send it, go on with a new one
                sent.append((await producer.send_batch(batch, topic, partition=partition), placed))
                batch, placed = producer.create_batch(), []
                appended = _append(batch, record)
                if appended is None:
                    raise ValueError(f"a record of {len(record.value)} bytes fits no batch")
            placed.append((index, appended.offset))
        sent.append((await producer.send_batch(batch, topic, partition=partition), placed))
    acks: list[RecordMetadata] = await asyncio.gather(*(ack for ack, _ in sent))
    placements: dict[int, Placement] = {}
    for stored_batch, (_, placed) in zip(acks, sent, strict=True):
        for index, relative in placed:
            placements[index] = Placement(stored_batch.partition, stored_batch.offset + relative)
    return [placements[index] for index in range(len(records))]


def _partition_of(record: Outgoing, partitions: Sequence[int]) -> int:
    return partitions[_key_hash(record.key) % len(partitions)]


def _append(batch: BatchBuilder, record: Outgoing) -> Any:
    """The record's metadata in ``batch`` (its offset within it), or None when it is full."""
    return batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers)


class GroupedSends:
    """``send_all`` shared by many concurrent callers: what callers hand over while a send is
    under way goes together as the next one, so one send carries everything that arrived during
    the round trip before it.

    Ingest answers each post only after Kafka acknowledged its event, so under load many posts
    wait on sends at once. Sent one by one, each pays the producer's per-record path; grouped,
    they share a record batch per partition: less CPU per record and more records per second
    the more callers wait. One group is in flight
    at a time, so a key's records keep the order in which they were handed over. A failed
    send fails every caller in its group; a caller that stops waiting (a timeout) leaves the
    others unaffected, and its records are not sent if their group has not left yet."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._waiting: list[tuple[Sequence[Outgoing], asyncio.Future[list[Placement]]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def send(self, records: Sequence[Outgoing]) -> list[Placement]:
        """Send ``records`` and wait for Kafka's acks; where each was stored, in order."""
        placed: asyncio.Future[list[Placement]] = asyncio.get_running_loop().create_future()
        self._waiting.append((records, placed))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send_waiting(), name="kafka-grouped-sends")
        return await placed

    async def _send_waiting(self) -> None:
        try:
            while self._waiting:
                # A caller that stopped waiting (its timeout) was told its records were not
                # taken: they are not sent after all.
                group = [
                    (records, waiter) for records, waiter in self._waiting if not waiter.done()
                ]
                self._waiting = []
                if group:
                    await self._send_group(group)
        except asyncio.CancelledError:
            # Shutting down: nobody is left to send for those still waiting.
            for _, waiter in self._waiting:
                waiter.cancel()
            self._waiting = []
            raise
        finally:
            self._sending = None

    async def _send_group(
        self, group: Sequence[tuple[Sequence[Outgoing], asyncio.Future[list[Placement]]]]
    ) -> None:
        try:
            placed = await send_all(
                self._producer, [record for records, _ in group for record in records]
            )
        except asyncio.CancelledError:
            for _, waiter in group:
                waiter.cancel()
            raise
        except Exception as exc:
            for _, waiter in group:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        start = 0
        for records, waiter in group:
            if not waiter.done():  # done: its caller stopped waiting
                waiter.set_result(placed[start : start + len(records)])
            start += len(records)


async def publish(producer: AIOKafkaProducer, topic: str, key: str, event: CloudEvent) -> Placement:
    """Send one event and wait until Kafka acknowledged it."""
    placed = await send_all(producer, [Outgoing.of(topic, key, event)])
    return placed[0]


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

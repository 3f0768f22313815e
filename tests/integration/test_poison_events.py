"""Poison events go to the dead-letter topic after bounded retries; the partition keeps flowing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.cli.dlq import read_all, replay
from leadpipe.scoring.adapters.orm import LeadRow
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler, decode
from leadpipe.shared.consume import (
    MAX_ATTEMPTS,
    BatchHandler,
    ConsumerHealth,
    Sleep,
    consume_forever,
)
from leadpipe.shared.dead_letters import DeadLetterQueue
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.kafka import make_consumer, make_producer, publish
from leadpipe.shared.records import Record
from leadpipe.shared.settings import Settings
from tests.events import form_submitted
from tests.integration.kafka_helpers import TopicReader

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


def form_post(email: str) -> InboundEvent:
    return form_submitted(email, "newsletter")


class FailsFor:
    """The real scoring batch handler, except that it keeps failing for one lead's events
    (a bug's stand-in)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, poisoned: str
    ) -> None:
        self._inner = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())
        self._poisoned = poisoned

    async def __call__(self, records: Sequence[Record]) -> None:
        if any(event.identity.email == self._poisoned for event, _ in decode(records)):
            raise ValueError("handler bug for this event")
        await self._inner(records)


@asynccontextmanager
async def kafka_clients(
    settings: Settings, group: str
) -> AsyncIterator[tuple[AIOKafkaProducer, AIOKafkaConsumer]]:
    """A started producer and a consumer of the lead events in ``group``, which the caller starts
    when its events are on the topic; both stopped on the way out."""
    producer = make_producer(settings.kafka_bootstrap, "test-poison")
    await producer.start()
    consumer = make_consumer(settings.kafka_bootstrap, group, [settings.topics.lead_events])
    try:
        yield producer, consumer
    finally:
        await consumer.stop()
        await producer.stop()


@asynccontextmanager
async def consuming(
    settings: Settings,
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
    handler: BatchHandler,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[None]:
    """The consume loop runs in the background while the block runs."""
    dead_letters = DeadLetterQueue(producer, settings.topics.lead_events_dlq)
    loop = asyncio.create_task(
        consume_forever(
            consumer,
            handler,
            ConsumerHealth(),
            dead_letters,
            max_attempts=max_attempts,
            sleep=sleep,
        )
    )
    try:
        yield
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_poison_events_are_dead_lettered_and_the_rest_applied(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    topic = settings.topics.lead_events
    run = uuid.uuid4().hex[:8]
    poisoned, healthy = f"poison.{run}@dlq.example", f"healthy.{run}@dlq.example"
    handler = FailsFor(sessions, settings, poisoned)
    async with (
        kafka_clients(settings, f"test-poison-{run}") as (producer, consumer),
        TopicReader(settings.kafka_bootstrap, settings.topics.lead_events_dlq) as dlq,
    ):
        # All on one key, so all on one partition, in this order.
        key = f"same-partition-{run}".encode()
        await producer.send_and_wait(topic, b"{not json", key=key, headers=[("x", b"1")])
        for event in (form_post(poisoned), form_post(healthy)):
            await publish(producer, topic, key.decode(), wrap(event, "/test"))
        await consumer.start()
        async with consuming(settings, producer, consumer, handler, max_attempts=2):
            letters = [r for r in await dlq.drain(0) if r.key == key]
            async with asyncio.timeout(60):
                while len(letters) < 2:
                    letters += [r for r in await dlq.drain(0.5) if r.key == key]

    undecodable, failing = (dict(letter.headers) for letter in letters)
    assert undecodable["dlq_original_topic"] == topic.encode()
    assert undecodable["dlq_error"].startswith(b"undecodable")
    assert undecodable["dlq_attempts"] == b"1"
    assert undecodable["x"] == b"1"
    assert b"handler bug for this event" in failing["dlq_error"]
    assert failing["dlq_attempts"] == b"2"
    assert int(failing["dlq_original_offset"]) == int(undecodable["dlq_original_offset"]) + 1
    assert await lead_emails(sessions, healthy, poisoned) == {healthy}

    # Once the bug is fixed, `leadpipe dlq replay` sends the event back and it is applied.
    on_topic = [letter for letter in await read_all(settings) if letter.key == key]
    assert len(on_topic) == 2
    await replay(settings, [on_topic[1]])
    fixed = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())
    await consume_until(settings, f"test-poison-{run}", fixed, sessions, poisoned)
    assert await lead_emails(sessions, healthy, poisoned) == {healthy, poisoned}


async def test_a_lead_behind_ten_poison_events_waits_for_no_back_off(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    topic = settings.topics.lead_events
    run = uuid.uuid4().hex[:8]
    poisoned, healthy = f"poison.{run}@dlq.example", f"behind.{run}@dlq.example"
    handler = FailsFor(sessions, settings, poisoned)
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    key = f"same-partition-{run}"
    async with kafka_clients(settings, f"test-poison-ten-{run}") as (producer, consumer):
        for event in [*(form_post(poisoned) for _ in range(10)), form_post(healthy)]:
            await publish(producer, topic, key, wrap(event, "/test"))
        await consumer.start()
        async with (
            consuming(settings, producer, consumer, handler, sleep=recorded_sleep),
            asyncio.timeout(60),
        ):
            while healthy not in await lead_emails(sessions, healthy):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    # The poison events' failures are not transient: nothing waited for a retry.
    assert waits == []


async def lead_emails(sessions: async_sessionmaker[AsyncSession], *emails: str) -> set[str]:
    async with sessions() as session:
        found = await session.scalars(select(LeadRow.email).where(LeadRow.email.in_(emails)))
        return {email for email in found if email}


async def consume_until(
    settings: Settings,
    group: str,
    handler: BatchHandler,
    sessions: async_sessionmaker[AsyncSession],
    email: str,
) -> None:
    async with kafka_clients(settings, group) as (producer, consumer):
        await consumer.start()
        async with consuming(settings, producer, consumer, handler), asyncio.timeout(60):
            # The database is the only witness of the replayed event being applied.
            while email not in await lead_emails(sessions, email):  # noqa: ASYNC110
                await asyncio.sleep(0.2)

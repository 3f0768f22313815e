"""The shared producer and consume loop against a real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from leadpipe.shared.consume import ConsumerHealth, consume_forever
from leadpipe.shared.dead_letters import DeadLetterQueue
from leadpipe.shared.envelope import from_record, unwrap, wrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.kafka import make_consumer, make_producer, publish
from leadpipe.shared.records import Record
from leadpipe.shared.settings import Settings
from tests.events import form_submitted
from tests.integration.kafka_helpers import TopicReader, keyed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


def inbound(email: str) -> InboundEvent:
    return form_submitted(email, "test")


async def test_published_event_arrives_keyed_with_cloudevents_headers(settings: Settings) -> None:
    producer = make_producer(settings.kafka_bootstrap, "test-producer")
    await producer.start()
    event = inbound(f"{uuid.uuid4().hex}@plumbing.example")
    try:
        async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
            await publish(
                producer, settings.topics.lead_events, event.lead_key, wrap(event, "/test")
            )
            seen = await reader.wait_for(keyed(event.lead_key))
    finally:
        await producer.stop()
    record = seen[-1]
    headers = dict(record.headers)
    assert headers["ce_id"] == event.event_id.encode()
    assert headers["ce_type"] == b"io.leadpipe.lead.inbound.v1"
    assert unwrap(from_record(record.headers, record.value), InboundEvent) == event


async def test_offsets_are_committed_only_after_the_batch_was_applied(settings: Settings) -> None:
    topic = settings.topics.lead_events
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    producer = make_producer(settings.kafka_bootstrap, "test-producer")
    await producer.start()
    events = [inbound(f"{uuid.uuid4().hex}@commit.example") for _ in range(3)]
    try:
        for event in events:
            await publish(producer, topic, event.lead_key, wrap(event, "/test"))
    finally:
        await producer.stop()

    wanted = {event.event_id for event in events}
    applied: list[str] = []
    failures = {"left": 1}
    all_applied = asyncio.Event()

    async def flaky_handler(records: Sequence[Record]) -> None:
        # Only this test's events: the topic also holds what ingest sealed in other tests.
        ids = [
            unwrap(from_record(r.headers, r.value), InboundEvent).event_id
            for r in records
            if ("ce_type", InboundEvent.CE_TYPE.encode()) in r.headers
        ]
        if failures["left"] and wanted & set(ids):
            failures["left"] -= 1
            raise RuntimeError("database went away")
        applied.extend(i for i in ids if i in wanted)
        if set(applied) == wanted:
            all_applied.set()

    consumer = make_consumer(settings.kafka_bootstrap, group, [topic])
    dlq_producer = make_producer(settings.kafka_bootstrap, "test-dlq")
    await consumer.start()
    await dlq_producer.start()
    dead_letters = DeadLetterQueue(dlq_producer, settings.topics.lead_events_dlq)
    loop = asyncio.create_task(
        consume_forever(consumer, flaky_handler, ConsumerHealth(), dead_letters)
    )
    try:
        async with asyncio.timeout(30):
            await all_applied.wait()
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await consumer.stop()
        await dlq_producer.stop()
    # The failed batch was retried, not skipped, and nothing was applied twice.
    assert sorted(applied) == sorted(wanted)

"""Publishing inbound events to Kafka, bounded in time so that a client is answered 503
rather than left hanging when Kafka cannot take the event."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from leadpipe.ingest.adapters.metrics import ACCEPTED, PRODUCE_SECONDS
from leadpipe.shared.envelope import new_traceparent, wrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.kafka import GroupedSends, Outgoing
from leadpipe.shared.privacy import record_key


class KafkaUnavailable(RuntimeError):
    pass


class EventPublisher:
    def __init__(self, producer: AIOKafkaProducer, topic: str, ack_timeout_s: float) -> None:
        self._producer = producer
        # Posts answered concurrently share their sends (see GroupedSends).
        self._sends = GroupedSends(producer)
        self._topic = topic
        self._ack_timeout_s = ack_timeout_s

    async def publish(self, event: InboundEvent, traceparent: str | None = None) -> None:
        """Returns only once Kafka acknowledged the event (acks=all)."""
        await self.publish_all([event], traceparent)

    async def publish_all(
        self, events: Sequence[InboundEvent], traceparent: str | None = None
    ) -> None:
        """Sends every event at once and returns when Kafka acknowledged all of them; raises
        KafkaUnavailable when it did not within the bound (the client then retries the whole
        request, and the repeated events carry the same ids)."""
        started = time.perf_counter()
        # One request is one trace: its events share the caller's trace context, or a new one.
        trace = traceparent or new_traceparent()
        try:
            async with asyncio.timeout(self._ack_timeout_s):
                await self._sends.send(
                    [
                        Outgoing.of(
                            self._topic,
                            # Not the lead key (an email, a user id): a pseudonym of it.
                            record_key(event.lead_key),
                            wrap(event, f"/leadpipe/ingest/{event.source}", trace),
                        )
                        for event in events
                    ],
                )
        except Exception as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge the events: {exc!r}") from exc
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
        for source, count in Counter(event.source for event in events).items():
            ACCEPTED.labels(source).inc(count)

    async def ready(self) -> bool:
        try:
            await asyncio.wait_for(self._producer.partitions_for(self._topic), timeout=2.0)
        except Exception:
            return False
        return True

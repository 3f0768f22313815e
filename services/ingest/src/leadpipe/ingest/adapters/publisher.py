"""Publishing inbound events to Kafka, bounded in time so that a client is answered 503
rather than left hanging when Kafka cannot take the event."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.kafka import publish


class KafkaUnavailable(RuntimeError):
    pass


class EventPublisher:
    def __init__(self, producer: AIOKafkaProducer, topic: str, ack_timeout_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._ack_timeout_s = ack_timeout_s

    async def publish(self, event: InboundEvent, traceparent: str | None = None) -> None:
        """Returns only once Kafka acknowledged the event (acks=all)."""
        try:
            await asyncio.wait_for(
                publish(
                    self._producer,
                    self._topic,
                    event.lead_key,
                    wrap(event, f"/leadpipe/ingest/{event.source}", traceparent),
                ),
                timeout=self._ack_timeout_s,
            )
        except Exception as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge the event: {exc!r}") from exc

    async def ready(self) -> bool:
        try:
            await asyncio.wait_for(self._producer.partitions_for(self._topic), timeout=2.0)
        except Exception:
            return False
        return True

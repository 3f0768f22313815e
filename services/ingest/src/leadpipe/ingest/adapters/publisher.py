"""Publishing inbound events to Kafka, bounded in time so that a client is answered 503
rather than left hanging when Kafka cannot take the event.

Each event goes out sealed (see :mod:`leadpipe.shared.sealing`) under its subject's data key,
keyed by the subject: the pseudonym of its lead key. What names the person is readable only
while that key exists; erasure shreds it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

import orjson
from aiokafka import AIOKafkaProducer

from leadpipe.ingest.adapters.metrics import ACCEPTED, PRODUCE_SECONDS, SUPPRESSED
from leadpipe.ingest.adapters.subject_keys import SubjectKeys
from leadpipe.shared.envelope import CloudEvent, new_traceparent
from leadpipe.shared.events import InboundEvent, SealedInboundEvent
from leadpipe.shared.kafka import GroupedSends, Outgoing
from leadpipe.shared.privacy import record_key
from leadpipe.shared.sealing import seal


class KafkaUnavailable(RuntimeError):
    pass


def sealed(event: InboundEvent, subject: str, data_key: bytes, trace: str) -> CloudEvent:
    """The CloudEvent that carries ``event`` sealed for ``subject``: a
    :class:`SealedInboundEvent`, written with orjson (a model built and dumped per event cost
    more than the sealing; a unit test reads it back through the model)."""
    data = orjson.dumps(
        {
            "event_id": event.event_id,
            "occurred_at": event.occurred_at,
            "name": event.name,
            "source": event.source,
            "received_at": event.received_at,
            "subject": subject,
            "sealed": seal(data_key, subject, event.model_dump_json().encode()),
        },
        option=orjson.OPT_UTC_Z,
    )
    return CloudEvent(
        id=event.event_id,
        type=SealedInboundEvent.CE_TYPE,
        source=f"/leadpipe/ingest/{event.source}",
        time=event.occurred_at,
        data=data,
        traceparent=trace,
    )


class EventPublisher:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        ack_timeout_s: float,
        keys: SubjectKeys,
    ) -> None:
        self._producer = producer
        # Posts answered concurrently share their sends (see GroupedSends).
        self._sends = GroupedSends(producer)
        self._topic = topic
        self._ack_timeout_s = ack_timeout_s
        self._keys = keys

    async def publish(self, event: InboundEvent, traceparent: str | None = None) -> None:
        """Returns only once Kafka acknowledged the event (acks=all)."""
        await self.publish_all([event], traceparent)

    async def publish_all(
        self, events: Sequence[InboundEvent], traceparent: str | None = None
    ) -> None:
        """Sends every event at once and returns when Kafka acknowledged all of them; raises
        KafkaUnavailable when it did not within the bound (the client then retries the whole
        request, and the repeated events carry the same ids). An event of an erased person
        is accepted and dropped: it must not bring the person back."""
        started = time.perf_counter()
        # One request is one trace: its events share the caller's trace context, or a new one.
        trace = traceparent or new_traceparent()
        subjects = [record_key(event.lead_key) for event in events]
        published: Counter[str] = Counter()
        suppressed: Counter[str] = Counter()
        try:
            async with asyncio.timeout(self._ack_timeout_s):
                keys = await self._keys.for_publishing(set(subjects))
                outgoing = []
                for event, subject in zip(events, subjects, strict=True):
                    data_key = keys[subject]
                    if data_key is None:
                        suppressed[event.source] += 1
                        continue
                    published[event.source] += 1
                    outgoing.append(
                        Outgoing.of(self._topic, subject, sealed(event, subject, data_key, trace))
                    )
                if outgoing:
                    await self._sends.send(outgoing)
        except Exception as exc:
            raise KafkaUnavailable(f"the events could not be published: {exc!r}") from exc
        PRODUCE_SECONDS.observe(time.perf_counter() - started)
        for source, count in suppressed.items():
            SUPPRESSED.labels(source).inc(count)
        for source, count in published.items():
            ACCEPTED.labels(source).inc(count)

    async def ready(self) -> bool:
        try:
            await asyncio.wait_for(self._producer.partitions_for(self._topic), timeout=2.0)
        except Exception:
            return False
        return True

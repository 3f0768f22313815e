"""Routing reads a sealed first touch without any data key: its subject is the lead key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from leadpipe.ingest.adapters.publisher import sealed
from leadpipe.routing.entrypoints.consumer import decode
from leadpipe.routing.service.handlers import contacted_key
from leadpipe.shared.envelope import new_traceparent
from leadpipe.shared.events import Identity, InboundEvent, SealedInboundEvent
from leadpipe.shared.privacy import record_key
from leadpipe.shared.sealing import new_data_key
from leadpipe.shared.topics import Topics

TOPICS = Topics.with_prefix()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Delivered:
    value: bytes | None
    headers: list[tuple[str, bytes]]
    key: bytes | None
    topic: str = TOPICS.lead_events
    partition: int = 0
    offset: int = 0


def event(name: str, email: str) -> InboundEvent:
    return InboundEvent(
        event_id=f"{name}-1",
        occurred_at=NOW,
        received_at=NOW,
        name=name,
        lead_key=email,
        source="webhook:crm",
        identity=Identity(email=email),
    )


def published(inbound: InboundEvent) -> Delivered:
    subject = record_key(inbound.lead_key)
    cloud_event = sealed(inbound, subject, new_data_key(), new_traceparent())
    return Delivered(cloud_event.data, cloud_event.headers(), subject.encode())


def test_a_sealed_first_touch_is_matched_by_its_subject() -> None:
    touch = decode(published(event("lead_contacted", "erika@muster.example")), TOPICS)
    assert isinstance(touch, SealedInboundEvent)
    assert contacted_key(touch) == record_key("erika@muster.example")
    assert touch.occurred_at == NOW


def test_a_plain_first_touch_gets_the_same_key() -> None:
    plain = event("lead_contacted", "erika@muster.example")
    assert contacted_key(plain) == record_key("erika@muster.example")


def test_other_sealed_events_are_not_routings() -> None:
    assert decode(published(event("identify", "erika@muster.example")), TOPICS) is None

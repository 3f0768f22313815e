"""CloudEvents 1.0 in Kafka binary content mode.

The record value is the event's JSON data; every other attribute travels as a ``ce_``-prefixed
header, plus ``content-type`` and a W3C ``traceparent``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from leadpipe.shared.events import WireModel

SPEC_VERSION = "1.0"
JSON = "application/json"

Headers = Sequence[tuple[str, bytes]]
M = TypeVar("M", bound=WireModel)


class EnvelopeError(ValueError):
    """A Kafka record that is not a CloudEvent leadpipe can read."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    type: str
    source: str
    time: datetime
    data: bytes
    traceparent: str
    content_type: str = JSON

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("content-type", self.content_type.encode()),
            ("traceparent", self.traceparent.encode()),
        ]


def new_traceparent() -> str:
    # Trace ids need to be unique, not secret: the PRNG, as OpenTelemetry's id generator does,
    # rather than a system call per id. All-zero ids are invalid, hence the "or 1".
    trace_id = random.getrandbits(128) or 1
    span_id = random.getrandbits(64) or 1
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def wrap(event: WireModel, source: str, traceparent: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event.event_id,
        type=event.ce_type,
        source=source,
        time=event.occurred_at,
        data=event.model_dump_json().encode(),
        traceparent=traceparent or new_traceparent(),
    )


def from_record(headers: Headers, value: bytes | None) -> CloudEvent:
    """Read a binary-mode CloudEvent from a Kafka record's headers and value."""
    found = {name: raw for name, raw in headers}
    content_type = found.get("content-type", b"").decode(errors="replace")
    if content_type.startswith("application/cloudevents"):
        raise EnvelopeError("structured-mode CloudEvents are not accepted; use binary mode")
    missing = [h for h in ("ce_id", "ce_source", "ce_type", "ce_specversion") if h not in found]
    if missing:
        raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
    if value is None:
        raise EnvelopeError("record has no value")
    try:
        spec = found["ce_specversion"].decode()
        if spec != SPEC_VERSION:
            raise EnvelopeError(f"ce_specversion {spec!r} is not {SPEC_VERSION}")
        raw_time = found.get("ce_time")
        time = datetime.fromisoformat(raw_time.decode()) if raw_time else datetime.min
        return CloudEvent(
            id=found["ce_id"].decode(),
            type=found["ce_type"].decode(),
            source=found["ce_source"].decode(),
            time=time,
            data=value,
            traceparent=found.get("traceparent", b"").decode() or new_traceparent(),
            content_type=content_type or JSON,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, EnvelopeError):
            raise
        raise EnvelopeError(f"unreadable CloudEvents header: {exc}") from exc


def unwrap(cloud_event: CloudEvent, model: type[M]) -> M:
    """The event's data as ``model``; raises EnvelopeError on a type or schema mismatch."""
    if not model.carries(cloud_event.type):
        raise EnvelopeError(f"ce_type {cloud_event.type!r} is not a {model.__name__}")
    try:
        return model.model_validate_json(cloud_event.data)
    except ValidationError as exc:
        raise EnvelopeError(f"{model.__name__} data invalid: {exc.errors()[:3]}") from exc

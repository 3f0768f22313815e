import re
from datetime import UTC, datetime

import pytest

from leadpipe.shared.envelope import EnvelopeError, from_record, new_traceparent, unwrap, wrap
from leadpipe.shared.events import Identity, InboundEvent, LeadRouted

EVENT = InboundEvent(
    event_id="evt-1",
    occurred_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
    received_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
    name="form_submitted",
    lead_key="max@example.com",
    source="form:demo",
    identity=Identity(email="max@example.com"),
    properties={"form_id": "demo"},
)


def test_binary_mode_headers_and_round_trip() -> None:
    cloud_event = wrap(EVENT, "/leadpipe/ingest")
    headers = dict(cloud_event.headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == b"evt-1"
    assert headers["ce_type"] == b"io.leadpipe.lead.inbound.v1"
    assert headers["content-type"] == b"application/json"
    version, trace_id, parent_id, flags = headers["traceparent"].decode().split("-")
    assert (version, len(trace_id), len(parent_id), flags) == ("00", 32, 16, "01")
    decoded = unwrap(from_record(cloud_event.headers(), cloud_event.data), InboundEvent)
    assert decoded == EVENT


def test_unknown_fields_are_kept() -> None:
    data = EVENT.model_dump(mode="json") | {"added_in_v1_1": {"x": 1}}
    cloud_event = wrap(InboundEvent.model_validate(data), "/t")
    decoded = unwrap(from_record(cloud_event.headers(), cloud_event.data), InboundEvent)
    assert decoded.model_dump()["added_in_v1_1"] == {"x": 1}


def test_missing_headers_are_named() -> None:
    with pytest.raises(EnvelopeError, match="ce_id"):
        from_record([("ce_type", b"x"), ("ce_source", b"s"), ("ce_specversion", b"1.0")], b"{}")


def test_wrong_type_is_refused() -> None:
    cloud_event = wrap(EVENT, "/t")
    with pytest.raises(EnvelopeError, match="not a LeadRouted"):
        unwrap(from_record(cloud_event.headers(), cloud_event.data), LeadRouted)


def test_structured_mode_is_refused_clearly() -> None:
    with pytest.raises(EnvelopeError, match="structured-mode"):
        from_record([("content-type", b"application/cloudevents+json")], b"{}")


def test_new_trace_contexts_are_valid_and_distinct() -> None:
    valid = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$")
    made = [new_traceparent() for _ in range(1000)]
    assert all(valid.match(traceparent) for traceparent in made)
    assert len(set(made)) == len(made)

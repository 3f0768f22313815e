from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from leadpipe.ingest.adapters.publisher import sealed
from leadpipe.scoring.entrypoints.consumer import decode, sealed_subjects
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import new_traceparent, wrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.sealing import new_data_key
from tests.unit.scoring.events import inbound


@dataclass(frozen=True)
class Delivered:
    value: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str = "lead.events.v1"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def test_an_event_time_without_offset_is_read_as_utc() -> None:
    naive = inbound("page", at=datetime(2026, 3, 2, 9, 0), properties={"url": "/pricing"})
    cloud_event = wrap(naive, "/test")
    [(event, stored)] = decode([Delivered(cloud_event.data, cloud_event.headers())])
    assert event.event_id == naive.event_id
    assert event.occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # What-if replays the stored JSON: it holds the time as the live fold read it.
    assert InboundEvent.model_validate_json(stored) == event


def test_the_record_json_is_stored_as_it_came() -> None:
    page = inbound("page", properties={"url": "/preise", "title": "Preise – Übersicht"})
    cloud_event = wrap(page, "/test")
    [(event, stored)] = decode([Delivered(cloud_event.data, cloud_event.headers())])
    assert event == page
    assert stored.encode() == cloud_event.data


@pytest.mark.parametrize("where", ["properties", "traits", "context", "identity", "extra"])
def test_events_with_floats_are_stored_as_the_model_writes_them(where: str) -> None:
    # PostgreSQL's JSONB would give 1e2 back as the int 100; the live fold saw the float 100.0.
    page = inbound("track", properties={"url": "/webinar"})
    data = page.model_dump(mode="json")
    if where == "identity":
        data["identity"]["score"] = 100.0
    elif where == "extra":
        data["score"] = 100.0
    else:
        data[where] = {**data[where], "nested": [{"seconds": 100.0}]}
    sent = wrap(InboundEvent.model_validate(data), "/test")
    raw = sent.data.replace(b":100.0", b":1e2")
    assert raw != sent.data
    [(event, stored)] = decode([Delivered(raw, sent.headers())])
    assert stored == event.model_dump_json()
    assert ":100.0" in stored


def test_garbage_is_refused_for_the_dead_letter_topic() -> None:
    with pytest.raises(UndecodableRecord, match="missing CloudEvents header"):
        decode([Delivered(b"not json", [("ce_type", b"x")])])


def _sealed(event: InboundEvent, data_key: bytes) -> Delivered:
    """The record ingest publishes for ``event``: sealed, keyed by its subject."""
    subject = f"subject-{event.event_id}"
    cloud_event = sealed(event, subject, data_key, new_traceparent())
    return Delivered(cloud_event.data, cloud_event.headers(), key=subject.encode())


def test_a_sealed_event_opens_with_its_key_and_is_stored_as_it_was_sealed() -> None:
    page = inbound("identify", traits={"last_name": "Musterfrau", "phone": "+49 30 123"})
    data_key = new_data_key()
    record = _sealed(page, data_key)
    assert record.value is not None and b"Musterfrau" not in record.value
    subject = f"subject-{page.event_id}"
    assert sealed_subjects([record]) == {subject}
    [(event, stored)] = decode([record], {subject: data_key})
    assert event == page
    assert InboundEvent.model_validate_json(stored) == page


def test_a_sealed_event_whose_key_was_shredded_is_left_out_not_dead_lettered() -> None:
    record = _sealed(inbound("identify", traits={"last_name": "Musterfrau"}), new_data_key())
    assert decode([record], {record.key.decode(): None}) == []  # type: ignore[union-attr]
    assert decode([record]) == []


def test_a_sealed_event_that_does_not_open_with_its_key_is_dead_lettered() -> None:
    record = _sealed(inbound("identify"), new_data_key())
    with pytest.raises(UndecodableRecord, match="does not open"):
        decode([record], {record.key.decode(): new_data_key()})  # type: ignore[union-attr]

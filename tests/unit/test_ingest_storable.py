"""Ingest refuses, naming the field, what no consumer could store: NUL and lone surrogates,
integers beyond their columns, ids beyond an index row, times outside the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import JsonValue

from leadpipe.ingest.domain.forms import form_event, html_fields
from leadpipe.ingest.domain.refusals import FieldError, Refusal
from leadpipe.ingest.domain.storable import (
    CLAMPED_FROM,
    FUTURE_LEEWAY,
    MAX_ID_LENGTH,
    storable_json,
)
from leadpipe.ingest.domain.tracking import batch_events, call_event
from leadpipe.ingest.domain.webhooks import generic_event, hubspot_events
from leadpipe.shared.events import InboundEvent

RECEIVED = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def track(call: dict[str, JsonValue]) -> InboundEvent:
    return call_event(
        {"userId": "u-1", "event": "Visited", **call},
        call_type="track",
        source="segment:web",
        received_at=RECEIVED,
    )


def webhook(body: object) -> None:
    generic_event(body, source="webhook:crm", delivery_id=None, received_at=RECEIVED)


def refusal(action: object) -> Refusal:
    assert callable(action)
    with pytest.raises(Refusal) as refused:
        action()
    assert 400 <= refused.value.status < 500
    return refused.value


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"traits": {"first_name": "x\x00y"}}, "traits.first_name"),
        ({"properties": {"tags": ["a", "b\x00"]}}, "properties.tags[1]"),
        ({"context": {"page": {"ti\x00tle": "x"}}}, "context.page.ti\\u0000tle"),
        ({"properties": {"s": "\ud800"}}, "properties.s"),
        ({"properties": {"n": 2**63}}, "properties.n"),
        ({"properties": {"n": -(2**63) - 1}}, "properties.n"),
    ],
)
def test_unstorable_text_and_numbers_are_refused_naming_the_field(
    call: dict[str, JsonValue], field: str
) -> None:
    assert refusal(lambda: track(call)).field == field


def test_what_can_be_stored_passes_unchanged() -> None:
    fine: dict[str, JsonValue] = {
        "t": "\\u0000 is six characters",
        "n": 2**63 - 1,
        "m": -(2**63),
        "u": "Müller 😀",
    }
    assert storable_json(fine) == storable_json(dict(fine))
    track({"properties": fine})


def test_a_batch_names_the_item_and_refuses_unstorable_outer_context() -> None:
    body: dict[str, JsonValue] = {
        "batch": [
            {"type": "track", "userId": "u", "event": "e"},
            {"type": "identify", "userId": "u", "traits": {"x": "\x00"}},
        ]
    }
    assert refusal(lambda: batch_events(body, source="s", received_at=RECEIVED)).field == (
        "batch[1].traits.x"
    )
    outer: dict[str, JsonValue] = {"batch": [], "context": {"ip": "\x00"}}
    assert refusal(lambda: batch_events(outer, source="s", received_at=RECEIVED)).field == (
        "context.ip"
    )


@pytest.mark.parametrize("size", [10_000_000_000, "10000000000", " -3000000000 "])
def test_a_head_count_beyond_scorings_integer_column_is_refused(size: JsonValue) -> None:
    assert refusal(lambda: track({"traits": {"company_size": size}})).field == (
        "traits.company_size"
    )
    assert refusal(lambda: track({"properties": {"employees": size}})).field == (
        "properties.employees"
    )
    fields: dict[str, JsonValue] = {"email": "a@b.de", "company_size": size}
    assert refusal(lambda: form_event("f", fields, source="form:f", received_at=RECEIVED)).field
    # What scoring does not read as a whole number, it ignores: so does ingest.
    track({"traits": {"company_size": "about 10000000000"}})
    track({"traits": {"company_size": 2_147_483_647}})


@pytest.mark.parametrize("name", ["userId", "anonymousId", "messageId", "groupId"])
def test_ids_longer_than_the_limit_are_refused(name: str) -> None:
    long_id = "x" * (MAX_ID_LENGTH + 1)
    call = {"userId": "u-1", "groupId": "g", name: long_id}
    refused = refusal(lambda: call_event(call, call_type="group", source="s", received_at=RECEIVED))
    assert refused.field == name
    call_event(
        {**call, name: "x" * MAX_ID_LENGTH}, call_type="group", source="s", received_at=RECEIVED
    )


def test_an_event_name_longer_than_the_limit_is_refused() -> None:
    assert refusal(lambda: track({"event": "e" * 256})).field == "event"


def test_a_webhook_user_id_longer_than_the_limit_is_refused() -> None:
    body = {"type": "lead_contacted", "data": {"userId": "u" * 8192}}
    assert refusal(lambda: webhook(body)).field == "data.userId"


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_timestamps_that_overflow_in_utc_are_refused_not_a_server_error(timestamp: str) -> None:
    assert refusal(lambda: track({"timestamp": timestamp})).field == "timestamp"
    body = {"type": "lead_contacted", "timestamp": timestamp, "data": {"userId": "u"}}
    assert refusal(lambda: webhook(body)).field == "timestamp"


@pytest.mark.parametrize("timestamp", ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_time_before_1970_is_refused(timestamp: str) -> None:
    assert refusal(lambda: track({"timestamp": timestamp})).field == "timestamp"
    batch: dict[str, JsonValue] = {
        "batch": [{"type": "track", "userId": "u", "event": "e", "timestamp": timestamp}]
    }
    assert refusal(lambda: batch_events(batch, source="s", received_at=RECEIVED)).field == (
        "batch[0].timestamp"
    )
    hubspot = [{"subscriptionType": "contact.creation", "objectId": 1, "occurredAt": -1000}]
    assert refusal(lambda: hubspot_events(hubspot, source="h", received_at=RECEIVED)).field == (
        "[0].occurredAt"
    )


@pytest.mark.parametrize("ahead", [timedelta(days=365 * 974), timedelta(minutes=6)])
def test_a_time_ahead_of_arrival_is_clamped_to_arrival_and_says_so(ahead: timedelta) -> None:
    claimed = RECEIVED + ahead
    event = track({"timestamp": claimed.isoformat()})
    assert event.occurred_at == RECEIVED
    assert event.model_dump(mode="json")[CLAMPED_FROM] == claimed.isoformat()
    millis = int(claimed.timestamp() * 1000)
    hubspot = [{"subscriptionType": "contact.creation", "objectId": 1, "occurredAt": millis}]
    assert hubspot_events(hubspot, source="h", received_at=RECEIVED)[0].occurred_at == RECEIVED


def test_a_time_within_the_leeway_stands() -> None:
    claimed = RECEIVED + FUTURE_LEEWAY
    event = track({"timestamp": claimed.isoformat()})
    assert event.occurred_at == claimed
    assert CLAMPED_FROM not in event.model_dump()


def test_a_form_field_with_nul_is_refused_from_json_and_from_an_html_post() -> None:
    posted = html_fields({"email": "a@b.de", "first_name": "x\x00y"})
    for fields in (posted, {"email": "a@b.de", "first_name": "x\x00y"}):
        refused = refusal(
            lambda fields=fields: form_event("f", fields, source="form:f", received_at=RECEIVED)
        )
        assert refused.field == "first_name"
    keyed: dict[str, JsonValue] = {"email": "a@b.de", "x\x00": "y"}
    refused = refusal(lambda: form_event("f", keyed, source="form:f", received_at=RECEIVED))
    assert refused.field == "x\\u0000"


def test_an_unstorable_webhook_is_refused_naming_the_field() -> None:
    body = {"type": "lead_contacted", "data": {"userId": "u", "note": "a\x00"}}
    assert refusal(lambda: webhook(body)).field == "data.note"
    hubspot = [{"subscriptionType": "contact.creation", "objectId": 2**64}]
    refused = refusal(lambda: hubspot_events(hubspot, source="h", received_at=RECEIVED))
    assert refused.field == "[0].objectId"
    assert isinstance(refused, FieldError)

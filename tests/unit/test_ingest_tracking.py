"""Segment calls as inbound events: identity, lead key, clock skew, batches, limits."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from leadpipe.ingest.domain.refusals import FieldError, Malformed, TooLarge
from leadpipe.ingest.domain.tracking import (
    MESSAGE_ID_NAMESPACE,
    batch_events,
    call_event,
    event_id_for,
)

RECEIVED = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def test_identify_is_keyed_by_the_normalised_email() -> None:
    event = call_event(
        {"userId": "u-1", "anonymousId": None, "traits": {"email": " Max@Example.COM "}},
        call_type="identify",
        source="segment:web",
        received_at=RECEIVED,
    )
    assert event.name == "identify"
    assert event.lead_key == "max@example.com"
    assert event.identity.user_id == "u-1"
    assert event.identity.anonymous_id is None
    assert event.traits["email"] == " Max@Example.COM "


def test_email_in_context_traits_keys_a_track_call() -> None:
    event = call_event(
        {
            "userId": "u-1",
            "event": "Whitepaper Downloaded",
            "properties": {"title": "Lead scoring"},
            "context": {"traits": {"email": "anna@kunde.example"}},
        },
        call_type="track",
        source="segment:web",
        received_at=RECEIVED,
    )
    assert event.lead_key == "anna@kunde.example"
    assert event.properties == {"title": "Lead scoring", "event": "Whitepaper Downloaded"}


def test_without_email_the_user_id_and_then_the_anonymous_id_key_the_lead() -> None:
    by_user = call_event(
        {"userId": 42, "anonymousId": "a-1"}, call_type="page", source="s", received_at=RECEIVED
    )
    anonymous = call_event(
        {"anonymousId": "a-1", "name": "Pricing"},
        call_type="page",
        source="s",
        received_at=RECEIVED,
    )
    assert by_user.lead_key == "42"
    assert anonymous.lead_key == "anon:a-1"
    assert anonymous.properties == {"name": "Pricing"}


def test_a_call_without_any_identity_is_refused() -> None:
    with pytest.raises(Malformed) as refused:
        call_event({"event": "x"}, call_type="track", source="s", received_at=RECEIVED)
    assert refused.value.field == "userId"
    assert refused.value.status == 400


def test_a_track_call_needs_its_event_name() -> None:
    with pytest.raises(FieldError) as refused:
        call_event({"userId": "u"}, call_type="track", source="s", received_at=RECEIVED)
    assert refused.value.field == "event"


def test_a_client_clock_that_runs_an_hour_late_is_corrected() -> None:
    # The client thinks it is 11:00 when it is 12:00; the event happened 5 s before sending.
    event = call_event(
        {
            "userId": "u",
            "timestamp": "2026-11-25T10:59:55Z",
            "sentAt": "2026-11-25T11:00:00+00:00",
        },
        call_type="identify",
        source="s",
        received_at=RECEIVED,
    )
    assert event.occurred_at == RECEIVED - timedelta(seconds=5)
    assert event.received_at == RECEIVED


def test_without_sent_at_the_client_timestamp_stands() -> None:
    event = call_event(
        {"userId": "u", "timestamp": "2026-11-25T10:00:00"},
        call_type="identify",
        source="s",
        received_at=RECEIVED,
    )
    assert event.occurred_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_an_unreadable_timestamp_names_the_field() -> None:
    with pytest.raises(FieldError) as refused:
        call_event(
            {"userId": "u", "timestamp": "yesterday"},
            call_type="identify",
            source="s",
            received_at=RECEIVED,
        )
    assert refused.value.field == "timestamp"


def test_the_same_message_id_gives_the_same_event_id_per_source() -> None:
    assert event_id_for("segment:web", "m-1") == event_id_for("segment:web", "m-1")
    assert event_id_for("segment:web", "m-1") != event_id_for("segment:app", "m-1")
    assert event_id_for("segment:web", None) != event_id_for("segment:web", None)


@given(source=st.text(min_size=1), message_id=st.text(min_size=1))
def test_event_ids_are_the_name_based_uuids_of_source_and_message_id(
    source: str, message_id: str
) -> None:
    # Ids must never change between versions: a retry across an upgrade is still a duplicate.
    expected = uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{source}\n{message_id}")
    assert event_id_for(source, message_id) == str(expected)


def test_batch_context_integrations_and_sent_at_apply_to_each_item() -> None:
    body: dict[str, JsonValue] = {
        "sentAt": "2026-11-25T11:00:00Z",
        "context": {"library": {"name": "analytics-node"}, "locale": "de-DE"},
        "integrations": {"All": True},
        "batch": [
            {
                "type": "track",
                "event": "Signed Up",
                "userId": "u",
                "messageId": "m-1",
                "timestamp": "2026-11-25T10:59:00Z",
                "context": {"locale": "en-GB"},
            },
            {
                "type": "identify",
                "anonymousId": "a",
                "sentAt": "2026-11-25T12:00:00Z",
                "timestamp": "2026-11-25T11:59:30Z",
            },
        ],
    }
    first, second = batch_events(body, source="segment:web", received_at=RECEIVED)
    assert first.context == {
        "library": {"name": "analytics-node"},
        "locale": "en-GB",
        "integrations": {"All": True},
    }
    assert first.occurred_at == RECEIVED - timedelta(minutes=1)
    assert first.event_id == event_id_for("segment:web", "m-1")
    # The item's own sentAt wins over the batch's.
    assert second.occurred_at == RECEIVED - timedelta(seconds=30)


def test_one_bad_item_refuses_the_batch_naming_it() -> None:
    with pytest.raises(FieldError) as refused:
        batch_events(
            {"batch": [{"type": "track", "userId": "u", "event": "x"}, {"type": "explode"}]},
            source="s",
            received_at=RECEIVED,
        )
    assert refused.value.field == "batch[1].type"


def test_an_event_over_32_kb_is_refused() -> None:
    with pytest.raises(TooLarge) as refused:
        batch_events(
            {"batch": [{"type": "track", "userId": "u", "event": "x" * 33_000}]},
            source="s",
            received_at=RECEIVED,
        )
    assert refused.value.field == "batch[0]"


def test_a_sent_at_too_far_from_the_timestamp_names_the_field() -> None:
    with pytest.raises(FieldError) as refused:
        call_event(
            {"userId": "u", "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"},
            call_type="identify",
            source="s",
            received_at=RECEIVED,
        )
    assert refused.value.field == "sentAt"

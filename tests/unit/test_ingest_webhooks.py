"""Webhook bodies, form posts and the per-source rate limit."""

from datetime import UTC, datetime

import pytest

from leadpipe.ingest.domain.forms import form_event, html_fields
from leadpipe.ingest.domain.rate_limit import RateLimiter
from leadpipe.ingest.domain.refusals import FieldError, Malformed, RateLimited
from leadpipe.ingest.domain.tracking import event_id_for
from leadpipe.ingest.domain.webhooks import generic_event, hubspot_events

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_generic_webhook_becomes_the_named_event() -> None:
    event = generic_event(
        {
            "type": "lead_contacted",
            "timestamp": "2026-11-25T11:58:00Z",
            "data": {"email": "Anna@Kunde.example", "channel": "phone"},
        },
        source="webhook:crm",
        delivery_id="msg_1",
        received_at=NOW,
    )
    assert event.name == "lead_contacted"
    assert event.lead_key == "anna@kunde.example"
    assert event.properties == {"channel": "phone"}
    assert event.occurred_at == datetime(2026, 11, 25, 11, 58, tzinfo=UTC)
    assert event.event_id == event_id_for("webhook:crm", "msg_1")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "Lead Contacted!", "data": {"email": "a@b.example"}}, "type"),
        ({"type": "lead_contacted\n", "data": {"email": "a@b.example"}}, "type"),
        ({"type": "lead_contacted", "data": "a@b.example"}, "data"),
        ({"type": "lead_contacted", "data": {"channel": "phone"}}, "data.email"),
        ({"type": "lead_contacted", "data": {"email": "not-an-email"}}, "email"),
    ],
)
def test_generic_webhook_refusals_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as refused:
        generic_event(body, source="webhook:crm", delivery_id=None, received_at=NOW)
    assert refused.value.field == field


def test_hubspot_contact_events_map_to_leadpipe_events() -> None:
    created, email_set = hubspot_events(
        [
            {
                "eventId": 100,
                "subscriptionType": "contact.creation",
                "portalId": 99,
                "objectId": 123,
                "occurredAt": 1764071880000,
            },
            {
                "eventId": 101,
                "subscriptionType": "contact.propertyChange",
                "objectId": 123,
                "propertyName": "email",
                "propertyValue": "Max@Kunde.example",
                "occurredAt": 1764071881000,
            },
        ],
        source="hubspot:portal",
        received_at=NOW,
    )
    assert (created.name, created.lead_key) == ("hubspot_contact_created", "hubspot:123")
    assert created.occurred_at == datetime.fromtimestamp(1764071880, UTC)
    assert email_set.name == "hubspot_contact_property_changed"
    assert email_set.lead_key == "max@kunde.example"
    assert email_set.identity.user_id == "hubspot:123"
    assert email_set.properties["property"] == "email"


def test_a_hubspot_event_without_event_id_is_the_same_event_when_retried() -> None:
    change = {
        "subscriptionType": "contact.propertyChange",
        "objectId": 123,
        "propertyName": "lifecyclestage",
        "propertyValue": "lead",
        "occurredAt": 1764071880000,
        "attemptNumber": 0,
    }
    retried = {**change, "attemptNumber": 1}
    other = {**change, "propertyValue": "customer"}
    first, again, changed = (
        hubspot_events([body], source="hubspot:portal", received_at=NOW)[0]
        for body in (change, retried, other)
    )
    assert first.event_id == again.event_id
    assert changed.event_id != first.event_id
    (elsewhere,) = hubspot_events([change], source="hubspot:other", received_at=NOW)
    assert elsewhere.event_id != first.event_id


def test_hubspot_body_must_be_its_array() -> None:
    with pytest.raises(Malformed) as refused:
        hubspot_events({"eventId": 1}, source="hubspot:p", received_at=NOW)
    assert refused.value.field == "body"


def test_an_html_form_carries_consent_and_drops_the_honeypot() -> None:
    fields = html_fields(
        {
            "email": "max@kunde.example",
            "_gotcha": "",
            "consent_purpose": "newsletter",
            "consent_text_version": "2026-01",
        }
    )
    event = form_event("newsletter", fields, source="form:newsletter", received_at=NOW)
    assert event.consent is not None
    assert (event.consent.purpose, event.consent.text_version) == ("newsletter", "2026-01")
    assert event.consent.granted_at == NOW
    assert event.properties == {"form_id": "newsletter"}


def test_a_source_over_its_rate_waits_the_seconds_it_is_told() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=20)
    limiter.take("segment:web", 20, now_s=0.0)
    with pytest.raises(RateLimited) as refused:
        limiter.take("segment:web", 15, now_s=0.5)
    assert refused.value.retry_after_s == 1
    limiter.take("segment:other", 20, now_s=0.5)
    limiter.take("segment:web", 15, now_s=1.5)

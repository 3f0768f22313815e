from datetime import UTC, datetime

import pytest

from leadpipe.ingest.domain.forms import FieldError, form_event

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_form_post_becomes_a_keyed_event() -> None:
    event = form_event(
        "demo-request",
        {"email": " Max.Mustermann@Example.COM ", "title": "CTO", "budget": "yes"},
        source="form:demo-request",
        received_at=NOW,
    )
    assert event.name == "form_submitted"
    assert event.lead_key == "max.mustermann@example.com"
    assert event.traits["title"] == "CTO"
    assert event.properties == {"budget": "yes", "form_id": "demo-request"}


def test_missing_email_names_the_field() -> None:
    with pytest.raises(FieldError) as error:
        form_event("demo", {"first_name": "Max"}, source="form:demo", received_at=NOW)
    assert (error.value.field, error.value.reason) == ("email", "is required")


def test_invalid_email_says_why() -> None:
    with pytest.raises(FieldError) as error:
        form_event("demo", {"email": "max@"}, source="form:demo", received_at=NOW)
    assert error.value.field == "email"


def test_consent_is_recorded_with_its_time() -> None:
    event = form_event(
        "demo",
        {"email": "a@b.de", "consent": {"purpose": "sales_contact", "text_version": "v3"}},
        source="form:demo",
        received_at=NOW,
    )
    assert event.consent is not None
    assert (event.consent.purpose, event.consent.granted_at) == ("sales_contact", NOW)


def test_incomplete_consent_names_the_missing_part() -> None:
    with pytest.raises(FieldError, match=r"consent.text_version"):
        form_event(
            "demo", {"email": "a@b.de", "consent": {"purpose": "x"}}, source="f", received_at=NOW
        )

"""What erasure suppresses an event by, and what a group call may keep on an account."""

from __future__ import annotations

from datetime import UTC, datetime

from leadpipe.scoring.domain.accounts import company_traits
from leadpipe.scoring.service.erasure import identifier_hashes
from leadpipe.shared.events import Identity, InboundEvent
from leadpipe.shared.privacy import identifier_hash, subject_hash

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(lead_key: str, identity: Identity, **properties: object) -> InboundEvent:
    return InboundEvent(
        event_id="e-1",
        occurred_at=NOW,
        received_at=NOW,
        name="identify",
        lead_key=lead_key,
        source="segment:web",
        identity=identity,
        properties=properties,
    )


def test_every_identifier_of_an_event_can_suppress_it() -> None:
    found = identifier_hashes(
        event(
            "Erika@Muster.example",
            Identity(email=" Erika@Muster.example", user_id="u-1", anonymous_id="a-1"),
            previousId="a-0",
        )
    )
    assert found == {
        identifier_hash("lead_key", "Erika@Muster.example"),
        subject_hash("erika@muster.example"),
        identifier_hash("user_id", "u-1"),
        identifier_hash("anonymous_id", "a-1"),
        identifier_hash("anonymous_id", "a-0"),
    }


def test_a_user_id_does_not_match_the_same_string_as_an_anonymous_id() -> None:
    assert identifier_hash("user_id", "x-1") != identifier_hash("anonymous_id", "x-1")


def test_a_group_call_keeps_company_facts_only() -> None:
    traits = {
        "name": "Muster AG",
        "employees": 250,
        "industry": "Maschinenbau",
        "email": "erika@muster.example",
        "phone": "+49 30 1234567",
        "firstName": "Erika",
        "address": {"street": "Hauptstr. 1"},
        "website": {"nested": "not a plain value"},
    }
    assert company_traits(traits) == {
        "name": "Muster AG",
        "employees": 250,
        "industry": "Maschinenbau",
    }

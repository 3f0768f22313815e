"""Consent as a lead's state: given on forms, withdrawn by an inbound event; a withdrawal stops
scoring of the person's tracking calls until a later consent."""

from __future__ import annotations

from datetime import timedelta

from leadpipe.scoring.domain.consent import ConsentRecord, tracking_stopped
from leadpipe.scoring.domain.identity import merge
from leadpipe.scoring.domain.lead import LeadState, apply_event
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared.events import Consent, InboundEvent
from tests.unit.scoring.events import T0, demo_request, inbound

RULES = default_rules()


def _with_consent(event: InboundEvent, purpose: str = "marketing") -> InboundEvent:
    consent = Consent(purpose=purpose, granted_at=event.occurred_at, text_version="v3")
    return event.model_copy(update={"consent": consent, "source": "form:demo"})


def _fold(state: LeadState, *events: InboundEvent) -> LeadState:
    for event in events:
        state = apply_event(state, event, RULES).state
    return state


def _pricing(minutes: int) -> InboundEvent:
    return inbound(
        "page", at=T0 + timedelta(minutes=minutes), properties={"url": "https://x.example/pricing"}
    )


def test_a_form_consent_becomes_a_record_of_the_lead() -> None:
    state = _fold(LeadState(), _with_consent(demo_request()))
    assert state.consents == (ConsentRecord("marketing", "v3", T0, "form:demo"),)
    assert not tracking_stopped(state.consents)


def test_withdrawal_marks_the_purpose_and_stops_scoring_tracking_calls() -> None:
    given = _fold(LeadState(), _with_consent(demo_request()))
    withdrawn = apply_event(
        given,
        inbound(
            "consent_withdrawn", at=T0 + timedelta(hours=1), properties={"purpose": "marketing"}
        ),
        RULES,
    ).state
    [record] = withdrawn.consents
    assert (record.withdrawn_at, record.withdrawn_via) == (T0 + timedelta(hours=1), "test")
    assert tracking_stopped(withdrawn.consents)

    visit = apply_event(withdrawn, _pricing(120), RULES)
    assert visit.ignored == "tracking call after the person withdrew consent"
    assert (visit.changes, visit.moves, visit.state) == ((), (), withdrawn)
    # Forms and sales feedback still count.
    accepted = apply_event(withdrawn, inbound("lead_accepted", at=T0 + timedelta(hours=2)), RULES)
    assert accepted.ignored is None and accepted.moves


def test_a_later_consent_on_a_form_lets_tracking_count_again() -> None:
    state = _fold(
        LeadState(),
        _with_consent(demo_request()),
        inbound("consent_withdrawn", at=T0 + timedelta(hours=1)),  # no purpose: all of them
        _with_consent(demo_request(at=T0 + timedelta(days=1)), purpose="newsletter"),
    )
    assert [r.withdrawn_at is not None for r in state.consents] == [True, False]
    assert not tracking_stopped(state.consents)
    visit = apply_event(state, _pricing(60 * 25), RULES)
    assert visit.ignored is None and visit.changes


def test_an_older_consent_arriving_late_does_not_undo_a_newer_withdrawal() -> None:
    withdrawn = _fold(LeadState(), inbound("consent_withdrawn", at=T0 + timedelta(hours=1)))
    assert withdrawn.consents == (
        ConsentRecord("all", None, None, "test", T0 + timedelta(hours=1), "test"),
    )
    late = _fold(withdrawn, _with_consent(demo_request()))
    assert tracking_stopped(late.consents)


def test_a_track_call_or_a_form_named_consent_withdrawn_withdraws() -> None:
    given = _fold(LeadState(), _with_consent(demo_request()))
    later = T0 + timedelta(minutes=5)
    for name, field in (("track", "event"), ("form_submitted", "form_id")):
        state = _fold(
            given,
            inbound(
                name, at=later, properties={field: "consent_withdrawn", "purpose": "marketing"}
            ),
        )
        assert tracking_stopped(state.consents), name
    other_form = inbound("form_submitted", at=later, properties={"form_id": "newsletter"})
    assert not tracking_stopped(_fold(given, other_form).consents)


def test_merging_a_visitor_keeps_both_sides_consent() -> None:
    known = _fold(LeadState(), _with_consent(demo_request()))
    visitor = _fold(LeadState(), inbound("consent_withdrawn", email=None, anonymous_id="a1", at=T0))
    merged, _ = merge(known, visitor, T0 + timedelta(hours=1), RULES)
    assert len(merged.consents) == 2

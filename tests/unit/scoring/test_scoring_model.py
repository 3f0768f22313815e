from dataclasses import replace
from datetime import timedelta

from pydantic import JsonValue

from leadpipe.scoring.domain.accounts import account_domain
from leadpipe.scoring.domain.engagement import engagement_at, falls_below_at
from leadpipe.scoring.domain.fit import fit_parts, fit_score
from leadpipe.scoring.domain.identity import merge
from leadpipe.scoring.domain.lead import LeadState, apply_event
from leadpipe.scoring.domain.qualification import grade_of, open_questions, temperature_of
from leadpipe.scoring.domain.whatif import replay
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared.events import Stage
from tests.unit.scoring.events import T0, demo_request, inbound

RULES = default_rules()


def test_the_demo_request_ends_as_an_sql_with_explained_scores() -> None:
    outcome = apply_event(LeadState(), demo_request(), RULES)
    reasons = [c.reason for c in outcome.changes]
    assert "+25 BANT budget confirmed on the form" in reasons
    assert "+25 BANT authority confirmed by title 'Geschäftsführer'" in reasons
    assert "+30 asked for a demo" in reasons
    assert [m.to_stage for m in outcome.moves] == [Stage.LEAD, Stage.MQL, Stage.SQL]
    assert outcome.moves[1].reason == "hand-raiser: asked for a demo"
    assert outcome.state.hand_raiser


def test_german_and_english_titles_score_as_decision_makers() -> None:
    for title in ("CTO", "Geschäftsführerin", "Head of Operations", "Leiter Einkauf"):
        assert fit_score(fit_parts({"title": title}, RULES)) >= 20, title
    assert fit_score(fit_parts({"title": "Werkstudent"}, RULES)) == 0


def test_pricing_page_visits_count_for_intent_and_careers_visits_count_against() -> None:
    lead = apply_event(LeadState(), inbound("page", properties={"url": "/pricing"}), RULES).state
    assert engagement_at(lead.engagement, RULES.categories, T0) == 11  # +10 intent, +1 web
    later = T0 + timedelta(minutes=5)
    careers = apply_event(lead, inbound("page", at=later, properties={"url": "/karriere"}), RULES)
    assert [c.reason for c in careers.changes] == [
        "+1 viewed a page",
        "-2 visited the careers page (probably a job seeker)",
    ]


def test_200_email_opens_stay_within_the_email_cap_and_make_no_mql() -> None:
    state = apply_event(LeadState(), inbound("identify", traits={"title": "CTO"}), RULES).state
    for n in range(200):
        opened = inbound(
            "track", at=T0 + timedelta(seconds=n), properties={"event": "Email Opened"}
        )
        state = apply_event(state, opened, RULES).state
    assert engagement_at(state.engagement, RULES.categories, T0 + timedelta(seconds=200)) == 10
    assert state.stage == Stage.LEAD


def test_engagement_halves_after_one_half_life() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    half_life = timedelta(days=RULES.categories["intent"].half_life_days)
    assert engagement_at(state.engagement, RULES.categories, T0) == 30
    assert engagement_at(state.engagement, RULES.categories, T0 + half_life) == 15


def test_decay_is_recorded_when_the_next_event_of_the_category_comes() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    later = T0 + timedelta(days=21)
    chat = apply_event(
        state, inbound("track", at=later, properties={"event": "Chat Started"}), RULES
    )
    assert [c.reason for c in chat.changes] == [
        "-15 decay of intent (half-life 21 days)",
        "+8 chatted with us",
    ]


def test_the_crossing_time_below_a_threshold_is_computed() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    crossing = falls_below_at(state.engagement, RULES.categories, 25, T0)
    assert crossing is not None
    assert engagement_at(state.engagement, RULES.categories, crossing) < 25
    before = crossing - timedelta(minutes=2)
    assert engagement_at(state.engagement, RULES.categories, before) >= 25


def test_sales_moves_go_through_the_state_machine() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    steps = [
        ("opportunity_created", Stage.OPPORTUNITY),
        ("deal_won", Stage.CUSTOMER),
    ]
    for name, expected in steps:
        outcome = apply_event(state, inbound(name), RULES)
        assert [m.to_stage for m in outcome.moves] == [expected]
        state = outcome.state


def test_a_forbidden_sales_move_is_refused_with_its_reason() -> None:
    state = apply_event(LeadState(), inbound("identify"), RULES).state
    outcome = apply_event(state, inbound("deal_won"), RULES)
    assert outcome.moves == ()
    assert outcome.state.stage == Stage.LEAD
    assert "lead may move only to" in outcome.refused[0].why


def test_disqualifying_needs_a_reason_and_keeps_it() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    refused = apply_event(state, inbound("lead_disqualified"), RULES)
    assert refused.refused[0].why == "lead_disqualified needs a reason"
    done = apply_event(state, inbound("lead_disqualified", properties={"reason": "Student"}), RULES)
    assert done.moves[0].reason == "disqualified by sales: Student"
    assert done.state.stage == Stage.DISQUALIFIED


def test_lead_qualified_answers_set_qualification_and_grade() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    answers: dict[str, JsonValue] = {"answers": {"need": "yes", "timeline": "no"}}
    outcome = apply_event(state, inbound("lead_qualified", properties=answers), RULES)
    assert [c.reason for c in outcome.changes] == [
        "+25 BANT need confirmed by sales",
        "+0 BANT timeline denied by sales",
    ]
    assert outcome.refused[0].why == "the lead is already sql"
    fit = fit_score(fit_parts(outcome.state.profile, RULES))
    assert grade_of(fit, outcome.state.answers, RULES) == "B"
    assert grade_of(fit, state.answers, RULES) == "A"
    assert open_questions(outcome.state.answers, RULES) == []


def test_open_questions_name_the_unknown_criteria() -> None:
    state = apply_event(LeadState(), inbound("identify"), RULES).state
    asked = [q.criterion for q in open_questions(state.answers, RULES)]
    assert asked == ["budget", "authority", "need", "timeline"]


def test_temperature_bands() -> None:
    assert [temperature_of(e, RULES) for e in (0, 10, 29, 30)] == ["cold", "warm", "warm", "hot"]


def test_free_mail_domains_form_no_account() -> None:
    assert account_domain("max@gmx.de") is None
    assert account_domain("max@web.de") is None
    assert account_domain("max@t-online.de") is None
    assert account_domain("Max@Mustermann.example") == "mustermann.example"


def test_an_anonymous_visitors_history_merges_into_the_known_lead() -> None:
    visitor = LeadState()
    for n, url in enumerate(("/pricing", "/produkt", "/pricing")):
        page = inbound(
            "page",
            email=None,
            anonymous_id="a-1",
            at=T0 + timedelta(minutes=n),
            properties={"url": url},
        )
        visitor = apply_event(visitor, page, RULES).state
    known = apply_event(LeadState(), inbound("identify", traits={"title": "CTO"}), RULES).state
    merged, changes = merge(known, visitor, T0 + timedelta(minutes=5), RULES)
    assert engagement_at(merged.engagement, RULES.categories, T0 + timedelta(minutes=5)) == 23
    assert {c.code for c in changes} == {"merge.intent", "merge.web"}
    assert merged.stage == Stage.LEAD


def test_replaying_under_draft_rules_changes_the_outcome() -> None:
    events = [
        inbound("identify", traits={"title": "CTO"}),
        inbound("page", at=T0 + timedelta(minutes=1), properties={"url": "/pricing"}),
    ]
    assert replay(events, RULES).state.stage == Stage.LEAD
    eager = replace(RULES, mql_min_engagement=10, version="eager")
    replayed = replay(events, eager)
    assert replayed.state.stage == Stage.MQL
    assert replayed.why == "fit 30 ≥ 30 and engagement 11 ≥ 10"


def test_a_disqualified_lead_comes_back_only_by_raising_its_hand() -> None:
    state = apply_event(LeadState(), demo_request(), RULES).state
    reason: dict[str, JsonValue] = {"reason": "no budget this year"}
    state = apply_event(state, inbound("lead_disqualified", properties=reason), RULES).state
    later = T0 + timedelta(days=1)
    pricing = apply_event(state, inbound("page", at=later, properties={"url": "/pricing"}), RULES)
    assert (pricing.moves, pricing.state.stage) == ((), Stage.DISQUALIFIED)
    again = apply_event(pricing.state, demo_request(at=later + timedelta(hours=1)), RULES)
    assert [m.to_stage for m in again.moves] == [Stage.MQL, Stage.SQL]

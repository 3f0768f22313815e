"""Score invariants under arbitrary event sequences (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from leadpipe.scoring.domain.engagement import engagement_at, engagement_recorded, points
from leadpipe.scoring.domain.fit import fit_parts, fit_score
from leadpipe.scoring.domain.identity import merge
from leadpipe.scoring.domain.lead import LeadState, ScoreChange, apply_event
from leadpipe.scoring.domain.qualification import qualification_score
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared.events import InboundEvent
from tests.unit.scoring.events import T0, inbound

RULES = default_rules()

TITLES = ["CTO", "Leiterin Einkauf", "Werkstudent", "Marketing Manager", "Geschäftsführer", ""]
PAGES = ["/pricing", "/karriere", "/blog/x", "/preise/enterprise"]
TRACKS = ["Email Opened", "Email Link Clicked", "Unsubscribed", "Webinar Attended", "Chat Started"]
SALES = ["lead_accepted", "lead_qualified", "lead_recycled", "lead_contacted", "deal_lost"]


@st.composite
def events(draw: st.DrawFn) -> list[InboundEvent]:
    """A lead's history: forms, page views, tracks and sales feedback at increasing times."""
    out: list[InboundEvent] = []
    at = T0
    for _ in range(draw(st.integers(1, 25))):
        at += timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)))
        kind = draw(st.sampled_from(["form", "page", "track", "sales"]))
        if kind == "form":
            out.append(
                inbound(
                    "form_submitted",
                    at=at,
                    traits={
                        "title": draw(st.sampled_from(TITLES)),
                        "company_size": draw(st.integers(1, 5000)),
                        "country": draw(st.sampled_from(["DE", "AT", "US", "FR"])),
                    },
                    properties={
                        "form_id": draw(st.sampled_from(["demo", "whitepaper", "kontakt"])),
                        "asset_type": "whitepaper",
                        "budget": draw(st.sampled_from(["yes", "no", "maybe"])),
                    },
                )
            )
        elif kind == "page":
            out.append(inbound("page", at=at, properties={"url": draw(st.sampled_from(PAGES))}))
        elif kind == "track":
            out.append(inbound("track", at=at, properties={"event": draw(st.sampled_from(TRACKS))}))
        else:
            answers: dict[str, JsonValue] = {"need": draw(st.sampled_from(["yes", "no"]))}
            out.append(
                inbound(
                    draw(st.sampled_from(SALES)),
                    at=at,
                    properties={"reason": "test", "answers": answers},
                )
            )
    return out


def _run(history: list[InboundEvent]) -> tuple[LeadState, list[ScoreChange]]:
    state = LeadState()
    changes: list[ScoreChange] = []
    for event in history:
        outcome = apply_event(state, event, RULES)
        state = outcome.state
        changes.extend(outcome.changes)
    return state, changes


@settings(max_examples=150, deadline=None)
@given(events())
def test_scores_stay_within_0_and_100_and_categories_within_caps(
    history: list[InboundEvent],
) -> None:
    state, _ = _run(history)
    fit = fit_score(fit_parts(state.profile, RULES))
    assert 0 <= fit <= 100
    assert 0 <= engagement_at(state.engagement, RULES.categories, history[-1].occurred_at) <= 100
    assert 0 <= qualification_score(state.answers, RULES) <= 100
    for name, held in state.engagement.items():
        assert 0 <= held.value <= RULES.categories[name].cap


@settings(max_examples=150, deadline=None)
@given(events())
def test_the_explained_changes_add_up_to_each_score(history: list[InboundEvent]) -> None:
    state, changes = _run(history)
    total = {"fit": 0, "engagement": 0, "qualification": 0}
    for change in changes:
        total[change.component] += change.delta
    assert total["fit"] == fit_score(fit_parts(state.profile, RULES))
    assert total["engagement"] == engagement_recorded(state.engagement)
    assert total["qualification"] == qualification_score(state.answers, RULES)
    per_category = sum(points(held.value) for held in state.engagement.values())
    assert engagement_recorded(state.engagement) == per_category


@settings(max_examples=100, deadline=None)
@given(events(), st.lists(st.integers(0, 10**8), min_size=2, max_size=6))
def test_engagement_never_rises_while_nothing_happens(
    history: list[InboundEvent], offsets: list[int]
) -> None:
    state, _ = _run(history)
    start = history[-1].occurred_at
    seen = [
        engagement_at(state.engagement, RULES.categories, start + timedelta(seconds=s))
        for s in sorted(offsets)
    ]
    assert seen == sorted(seen, reverse=True)


@settings(max_examples=100, deadline=None)
@given(events())
def test_replaying_the_same_events_gives_the_same_scores_and_stage(
    history: list[InboundEvent],
) -> None:
    first, first_changes = _run(history)
    second, second_changes = _run(history)
    assert first == second
    assert first_changes == second_changes


@settings(max_examples=100, deadline=None)
@given(events(), events())
def test_after_a_merge_the_explained_changes_still_add_up(
    visitor_history: list[InboundEvent], known_history: list[InboundEvent]
) -> None:
    visitor, _ = _run(visitor_history)
    known, changes = _run(known_history)
    at = max(visitor_history[-1].occurred_at, known_history[-1].occurred_at)
    merged, merge_changes = merge(known, visitor, at, RULES)
    total = {"fit": 0, "engagement": 0, "qualification": 0}
    for change in [*changes, *merge_changes]:
        total[change.component] += change.delta
    assert total["fit"] == fit_score(fit_parts(merged.profile, RULES))
    assert total["engagement"] == engagement_recorded(merged.engagement)
    assert total["qualification"] == qualification_score(merged.answers, RULES)
    assert 0 <= engagement_at(merged.engagement, RULES.categories, at) <= 100

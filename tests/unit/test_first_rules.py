from leadpipe.scoring.domain.first_rules import FormPost, LeadFacts, apply_changes, assess_form
from leadpipe.shared.events import Stage

NEW_LEAD = LeadFacts(
    stage=Stage.LEAD,
    fit=0,
    engagement=0,
    qualification=0,
    budget="unknown",
    authority="unknown",
    hand_raiser=False,
)


def test_demo_request_is_a_hand_raiser_and_makes_an_mql() -> None:
    result = assess_form(NEW_LEAD, FormPost("demo-request", "Marketing Manager", {}))
    assert result.hand_raiser
    assert result.target == Stage.MQL
    assert any("hand-raiser" in change.reason for change in result.changes)


def test_budget_and_authority_confirmed_make_an_sql() -> None:
    form = FormPost("demo-request", "Geschäftsführer", {"budget": "ja"})
    result = assess_form(NEW_LEAD, form)
    assert (result.budget, result.authority) == ("yes", "yes")
    assert result.target == Stage.SQL
    totals = apply_changes(NEW_LEAD, result.changes)
    assert totals["qualification"] == 50


def test_newsletter_form_without_answers_moves_nobody() -> None:
    result = assess_form(NEW_LEAD, FormPost("newsletter", "Student", {"budget": "vielleicht"}))
    assert result.target is None
    assert [change.delta for change in result.changes] == [10]


def test_hand_raiser_points_are_given_once() -> None:
    already = LeadFacts(Stage.MQL, 0, 40, 0, "unknown", "unknown", hand_raiser=True)
    result = assess_form(already, FormPost("demo-request", None, {}))
    assert sum(change.delta for change in result.changes) == 10


def test_scores_stay_within_bounds() -> None:
    full = LeadFacts(Stage.MQL, 100, 95, 100, "unknown", "unknown", hand_raiser=False)
    result = assess_form(full, FormPost("demo", "CTO", {"budget": "yes"}))
    assert all(0 <= value <= 100 for value in apply_changes(full, result.changes).values())

import pytest

from leadpipe.scoring.domain.lifecycle import TransitionRefused, transition
from leadpipe.shared.events import Stage


def test_new_lead_may_start_in_any_stage() -> None:
    step = transition(None, Stage.LEAD, "new lead from form:demo")
    assert (step.from_stage, step.to_stage) == (None, Stage.LEAD)


def test_forward_and_backward_moves_are_allowed() -> None:
    assert transition(Stage.MQL, Stage.SQL, "BANT confirmed").to_stage == Stage.SQL
    assert transition(Stage.SQL, Stage.NURTURE, "not before next year").to_stage == Stage.NURTURE
    assert transition(Stage.DISQUALIFIED, Stage.LEAD, "new interest").to_stage == Stage.LEAD


def test_forbidden_move_is_refused_with_a_reason() -> None:
    with pytest.raises(TransitionRefused) as refused:
        transition(Stage.CUSTOMER, Stage.MQL, "threshold")
    assert "customer may move only to opportunity" in refused.value.why


def test_staying_put_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="already mql"):
        transition(Stage.MQL, Stage.MQL, "again")


def test_a_move_needs_a_reason() -> None:
    with pytest.raises(TransitionRefused, match="needs a reason"):
        transition(Stage.LEAD, Stage.MQL, "  ")

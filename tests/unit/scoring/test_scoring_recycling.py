from datetime import timedelta

from leadpipe.scoring.domain.engagement import engagement_at
from leadpipe.scoring.domain.lead import LeadState, apply_event
from leadpipe.scoring.domain.lifecycle import Transition
from leadpipe.scoring.domain.recycling import recycle, recycle_at
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared.events import InboundEvent, Stage
from tests.unit.scoring.events import T0, demo_request, inbound

RULES = default_rules()


def engaged_cto() -> list[InboundEvent]:
    """A CTO who becomes an MQL by scores alone: fit 30, engagement 29."""
    return [
        inbound("identify", traits={"title": "CTO"}),
        inbound("track", at=T0 + timedelta(minutes=1), properties={"event": "Webinar Attended"}),
        inbound("track", at=T0 + timedelta(minutes=2), properties={"event": "Chat Started"}),
        inbound("page", at=T0 + timedelta(minutes=3), properties={"url": "/pricing"}),
    ]


def _state(events: list[InboundEvent]) -> LeadState:
    state = LeadState()
    for event in events:
        state = apply_event(state, event, RULES).state
    return state


def test_an_mql_by_scores_is_due_for_nurture_when_decay_takes_it_below_the_threshold() -> None:
    state = _state(engaged_cto())
    assert state.stage == Stage.MQL
    now = T0 + timedelta(minutes=3)
    due = recycle_at(state, RULES, now)
    assert due is not None and due > now
    assert engagement_at(state.engagement, RULES.categories, due) < 15
    assert engagement_at(state.engagement, RULES.categories, due - timedelta(minutes=2)) >= 15

    early, nothing = recycle(state, RULES, due - timedelta(hours=1))
    assert (early.stage, nothing) == (Stage.MQL, None)
    later, step = recycle(state, RULES, due)
    assert later.stage == Stage.NURTURE
    assert isinstance(step, Transition)
    assert step.reason.startswith("engagement decayed to 14 < 15")


def test_hand_raisers_and_other_stages_are_never_due() -> None:
    assert recycle_at(_state([demo_request()]), RULES, T0) is None
    assert recycle_at(_state([inbound("identify")]), RULES, T0) is None


def test_new_activity_moves_the_moment_later() -> None:
    events = engaged_cto()
    before = recycle_at(_state(events), RULES, T0)
    webinar = inbound("track", at=T0 + timedelta(days=5), properties={"event": "Webinar Attended"})
    after = recycle_at(_state([*events, webinar]), RULES, T0 + timedelta(days=5))
    assert before is not None and after is not None and after > before

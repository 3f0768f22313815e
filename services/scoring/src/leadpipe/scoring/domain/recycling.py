"""Recycling to nurture by inactivity, found through a computed moment instead of a scan.

Engagement only falls while nothing happens, so the moment an MQL drops below the nurture
threshold is known as soon as its last event is applied. It is stored with the lead and
indexed; a sweeper picks up only the leads whose moment has come.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from leadpipe.scoring.domain.engagement import HORIZON, engagement_at, falls_below_at
from leadpipe.scoring.domain.lead import LeadState
from leadpipe.scoring.domain.lifecycle import Transition, TransitionRefused, transition
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.events import Stage

RECYCLE_HORIZON = HORIZON


def recycle_at(state: LeadState, rules: Rules, now: datetime) -> datetime | None:
    """When this lead is due for nurture, or None when it never will be as it stands (or only
    beyond ``RECYCLE_HORIZON``, as after an event dated in the far future).

    Only MQLs that got there by their scores: a hand-raiser waits for sales, never for decay."""
    threshold = rules.nurture_below_engagement
    if threshold is None or state.stage != Stage.MQL or state.hand_raiser:
        return None
    return falls_below_at(state.engagement, rules.categories, threshold, now)


def recycle(
    state: LeadState, rules: Rules, now: datetime
) -> tuple[LeadState, Transition | TransitionRefused | None]:
    """Move a due lead to nurture; None when it is no longer due (new activity came first)."""
    threshold = rules.nurture_below_engagement
    engagement = engagement_at(state.engagement, rules.categories, now)
    if (
        threshold is None
        or state.stage != Stage.MQL
        or state.hand_raiser
        or engagement >= threshold
    ):
        return state, None
    reason = f"engagement decayed to {engagement} < {threshold} without new activity"
    try:
        step = transition(state.stage, Stage.NURTURE, reason)
    except TransitionRefused as refused:
        return state, refused
    return replace(state, stage=Stage.NURTURE), step

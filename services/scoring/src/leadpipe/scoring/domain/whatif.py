"""What-if: replay one lead's stored events under draft rules, without touching live state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from leadpipe.scoring.domain.lead import LeadState, apply_event
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.events import InboundEvent


@dataclass(frozen=True)
class Replayed:
    state: LeadState
    why: str


def replay(events: Iterable[InboundEvent], rules: Rules) -> Replayed:
    """The state ``events`` lead to under ``rules``, and the reason of the last stage move.

    Deterministic: the same events under the same rules give the same scores and stage. A lead
    that absorbed an anonymous visitor owns the visitor's events too; they are replayed as one
    history in time order."""
    state = LeadState()
    why = ""
    for event in events:
        outcome = apply_event(state, event, rules)
        state = outcome.state
        if outcome.moves:
            why = outcome.moves[-1].reason
        elif outcome.refused and not why:
            why = outcome.refused[-1].why
    return Replayed(state, why)

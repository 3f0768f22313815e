"""The lifecycle state machine: the one function every stage move goes through."""

from __future__ import annotations

from dataclasses import dataclass

from leadpipe.shared.events import Stage

S = Stage

# Backward moves (recycling to nurture, back to lead) are ordinary transitions, not hacks.
ALLOWED: dict[Stage, frozenset[Stage]] = {
    S.SUBSCRIBER: frozenset({S.LEAD, S.MQL, S.SQL, S.NURTURE, S.DISQUALIFIED}),
    S.LEAD: frozenset({S.MQL, S.SAL, S.SQL, S.NURTURE, S.DISQUALIFIED}),
    S.MQL: frozenset({S.SAL, S.SQL, S.LEAD, S.NURTURE, S.DISQUALIFIED}),
    S.SAL: frozenset({S.SQL, S.MQL, S.NURTURE, S.DISQUALIFIED}),
    S.SQL: frozenset({S.OPPORTUNITY, S.SAL, S.NURTURE, S.DISQUALIFIED}),
    S.OPPORTUNITY: frozenset({S.CUSTOMER, S.NURTURE, S.DISQUALIFIED}),
    S.CUSTOMER: frozenset({S.OPPORTUNITY}),
    S.NURTURE: frozenset({S.LEAD, S.MQL, S.SQL, S.DISQUALIFIED}),
    S.DISQUALIFIED: frozenset({S.LEAD, S.MQL, S.NURTURE}),
}

# Where a lead stands in the funnel; automatic moves only ever go forward on this scale.
RANK: dict[Stage, int] = {
    S.NURTURE: 0,
    S.DISQUALIFIED: 0,
    S.SUBSCRIBER: 1,
    S.LEAD: 2,
    S.MQL: 3,
    S.SAL: 4,
    S.SQL: 5,
    S.OPPORTUNITY: 6,
    S.CUSTOMER: 7,
}


@dataclass(frozen=True)
class Transition:
    from_stage: Stage | None
    to_stage: Stage
    reason: str


class TransitionRefused(ValueError):
    def __init__(self, from_stage: Stage | None, to_stage: Stage, why: str) -> None:
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.why = why
        super().__init__(f"{from_stage or 'new'} → {to_stage}: {why}")


def transition(current: Stage | None, target: Stage, reason: str) -> Transition:
    """Move a lead from ``current`` (None: a new lead) to ``target``, or refuse with a reason."""
    if not reason.strip():
        raise TransitionRefused(current, target, "a stage change needs a reason")
    if current is None:
        return Transition(None, target, reason)
    if current == target:
        raise TransitionRefused(current, target, f"the lead is already {target}")
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(ALLOWED[current]))
        raise TransitionRefused(current, target, f"{current} may move only to {allowed}")
    return Transition(current, target, reason)


def is_advance(current: Stage, target: Stage) -> bool:
    return RANK[target] > RANK[current]

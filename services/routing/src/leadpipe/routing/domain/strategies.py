"""How a pool picks among its eligible reps. Each strategy takes the pool's rotation state and
returns the pick with the new state; the state lives in PostgreSQL under a row lock, so any
number of routing instances share one rotation.

Fair when reps join, leave or are away: the round-robin cursor remembers the last rep picked
(not a position), and weighted round-robin keeps per-rep credit that only eligible reps earn,
so nobody's turn is reset to the start of the list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from leadpipe.routing.domain.rotation import next_in_rotation
from leadpipe.routing.domain.rules import Strategy


@dataclass(frozen=True)
class Rotation:
    """A pool's rotation state: the last rep picked, and weighted round-robin's credits."""

    last_rep_id: str | None = None
    credits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Eligible:
    rep_id: str
    weight: int
    open_leads: int


@dataclass(frozen=True)
class Pick:
    rep_id: str
    rotation: Rotation
    why: str


def round_robin(eligible: Sequence[Eligible], rotation: Rotation) -> Pick | None:
    chosen = next_in_rotation([e.rep_id for e in eligible], rotation.last_rep_id)
    if chosen is None:
        return None
    return Pick(
        chosen, Rotation(chosen, rotation.credits), "round-robin: next after the previous pick"
    )


def weighted_round_robin(eligible: Sequence[Eligible], rotation: Rotation) -> Pick | None:
    """Smooth weighted round-robin: every eligible rep earns its weight in credit, the richest
    is picked and pays the total. Over any window each rep gets leads in proportion to its
    weight, interleaved rather than in bursts. Reps that are away earn nothing meanwhile; reps
    that left are forgotten (``forget_departed``); new reps start at zero."""
    if not eligible:
        return None
    total = sum(e.weight for e in eligible)
    credits = {rep_id: c for rep_id, c in rotation.credits.items()}
    for e in eligible:
        credits[e.rep_id] = credits.get(e.rep_id, 0) + e.weight
    chosen = max(sorted(eligible, key=lambda e: e.rep_id), key=lambda e: credits[e.rep_id])
    credits[chosen.rep_id] -= total
    return Pick(
        chosen.rep_id,
        Rotation(chosen.rep_id, credits),
        f"weighted round-robin: weight {chosen.weight} of {total}",
    )


def least_loaded(eligible: Sequence[Eligible], rotation: Rotation) -> Pick | None:
    """Fewest open leads wins; ties go round in the rotation order after the last pick."""
    if not eligible:
        return None
    fewest = min(e.open_leads for e in eligible)
    tied = [e for e in eligible if e.open_leads == fewest]
    chosen = next_in_rotation([e.rep_id for e in tied], rotation.last_rep_id)
    assert chosen is not None
    return Pick(chosen, Rotation(chosen, rotation.credits), f"least-loaded: {fewest} open lead(s)")


PICKERS = {
    "round-robin": round_robin,
    "weighted-round-robin": weighted_round_robin,
    "least-loaded": least_loaded,
}


def pick(strategy: Strategy, eligible: Sequence[Eligible], rotation: Rotation) -> Pick | None:
    return PICKERS[strategy](eligible, rotation)


def forget_departed(rotation: Rotation, members: Collection[str]) -> Rotation:
    """Drop credits of reps no longer in the pool, so the state does not grow forever."""
    return Rotation(
        rotation.last_rep_id, {k: v for k, v in rotation.credits.items() if k in members}
    )

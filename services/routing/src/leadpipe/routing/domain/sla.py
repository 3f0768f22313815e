"""SLA due times (how long a rep has for the first touch, by the lead's temperature) and
what a breach leads to (re-assignment, then escalation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadpipe.routing.domain.calendar import WorkCalendar


@dataclass(frozen=True)
class SlaPolicy:
    """Hot and warm leads run on the clock; cold leads get business days in the rep's own
    calendar (same local time on the next working day, skipping weekends and holidays).
    Hand-raisers always get the hot SLA."""

    hot: timedelta = timedelta(minutes=5)
    warm: timedelta = timedelta(hours=1)
    cold_business_days: int = 1

    def due_at(
        self, temperature: str, hand_raiser: bool, assigned_at: datetime, calendar: WorkCalendar
    ) -> datetime:
        if hand_raiser or temperature == "hot":
            return assigned_at + self.hot
        if temperature == "warm":
            return assigned_at + self.warm
        return calendar.add_business_days(assigned_at, self.cold_business_days)


@dataclass(frozen=True)
class Breach:
    """One missed first touch in a lead's routing, as the assignments' traces carry it."""

    rep_id: str
    name: str
    due_at: datetime

    def as_json(self) -> dict[str, object]:
        return {"rep_id": self.rep_id, "name": self.name, "due_at": self.due_at.isoformat()}

    @classmethod
    def from_json(cls, stored: Mapping[str, object]) -> Breach:
        return cls(
            str(stored["rep_id"]),
            str(stored["name"]),
            datetime.fromisoformat(str(stored["due_at"])),
        )


@dataclass(frozen=True)
class AfterBreach:
    """What a breach leads to: another rep, or the pool's escalation target."""

    escalate: bool
    breaches: int
    max_reassignments: int
    reason: str


def after_breach(breaches: Sequence[Breach], max_reassignments: int) -> AfterBreach:
    """``breaches`` are every breach of the lead's routing so far, the new one last. Each
    breach re-assigns the lead while re-assignments are left; the one after escalates, so a
    lead nobody touches moves at most ``max_reassignments + 1`` times."""
    count = len(breaches)
    if count <= max_reassignments:
        return AfterBreach(
            False,
            count,
            max_reassignments,
            f"SLA breach {count}: re-assignment {count} of {max_reassignments}",
        )
    return AfterBreach(
        True,
        count,
        max_reassignments,
        f"SLA breach {count} with {max_reassignments} re-assignment(s) allowed: escalated",
    )

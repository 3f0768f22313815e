"""SLA due times: how long a rep has for the first touch, by the lead's temperature."""

from __future__ import annotations

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

"""Engagement points per category with exponential decay, kept as (value, as-of time).

Exponential decay is memoryless: a category's value at any later time follows from the stored
value and its as-of time alone, so bringing it forward costs O(1) and needs no history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from leadpipe.scoring.domain.rules import Category

DAY_S = 86_400.0


@dataclass(frozen=True)
class CategoryPoints:
    value: float
    as_of: datetime

    def at(self, when: datetime, category: Category) -> float:
        """The value brought forward to ``when``; an earlier ``when`` keeps the stored value."""
        elapsed = (when - self.as_of).total_seconds()
        if elapsed <= 0 or self.value == 0:
            return self.value
        return float(self.value * 0.5 ** (elapsed / (category.half_life_days * DAY_S)))

    def forward(self, when: datetime, category: Category) -> CategoryPoints:
        return CategoryPoints(self.at(when, category), max(when, self.as_of))


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def points(value: float) -> int:
    """What a user sees of a category: whole points, rounded half up."""
    return math.floor(value + 0.5)


def engagement_at(
    state: Mapping[str, CategoryPoints], categories: Mapping[str, Category], when: datetime
) -> int:
    """The engagement score at ``when``: the sum of the categories' whole points."""
    return sum(
        points(held.at(when, categories[name]))
        for name, held in state.items()
        if name in categories
    )


def engagement_recorded(state: Mapping[str, CategoryPoints]) -> int:
    """The engagement score as of each category's last change: what the reasons add up to."""
    return sum(points(held.value) for held in state.values())


# No crossing is searched beyond this instant: far enough to mean "never" for any lead, and
# clear of the end of year 9999, where datetime arithmetic overflows.
HORIZON = datetime(9000, 1, 1, tzinfo=UTC)


def falls_below_at(
    state: Mapping[str, CategoryPoints],
    categories: Mapping[str, Category],
    threshold: int,
    now: datetime,
) -> datetime | None:
    """The first moment at or after ``now`` when engagement is below ``threshold``: ``now``
    itself when it already is; None when that moment is not before ``HORIZON`` (or the
    threshold cannot be undercut). Found by bisection on a monotone function: the sum only
    falls with time, so the crossing is unique."""
    if threshold <= 0 or now >= HORIZON:
        return None
    if engagement_at(state, categories, now) < threshold:
        return now
    if engagement_at(state, categories, HORIZON) >= threshold:
        return None
    low, high = now, _later(now, timedelta(days=1))
    while engagement_at(state, categories, high) >= threshold:
        low, high = high, _later(high, high - now)
    while (high - low) > timedelta(minutes=1):
        middle = low + (high - low) / 2
        if engagement_at(state, categories, middle) >= threshold:
            low = middle
        else:
            high = middle
    return high


def _later(when: datetime, step: timedelta) -> datetime:
    """``when + step``, but no later than ``HORIZON``."""
    return HORIZON if step >= HORIZON - when else when + step

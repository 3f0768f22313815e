"""The scoring rules as typed values: what a rules file says, after it was validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Grade = Literal["A", "B", "C"]
Temperature = Literal["cold", "warm", "hot"]
Answer = Literal["unknown", "yes", "no"]
FIT_ATTRIBUTES = (
    "title",
    "company_size",
    "industry",
    "country",
    "department",
    "revenue",
    "language",
)


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class FitRule:
    """One rule for one attribute: exactly one of the three matchers is set."""

    reason: str
    points: int
    contains_any: tuple[str, ...] = ()
    equals_any: tuple[str, ...] = ()
    between: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        # Normalised once here, not on every event: matching is on the consumer's hot path.
        object.__setattr__(self, "contains_any", tuple(_norm(w) for w in self.contains_any))
        object.__setattr__(self, "equals_any", tuple(_norm(w) for w in self.equals_any))

    def matches(self, value: str | int) -> bool:
        if self.between is not None:
            try:
                number = float(value)
            except ValueError:
                return False
            return self.between[0] <= number <= self.between[1]
        text = _norm(str(value))
        if self.contains_any:
            return any(word in text for word in self.contains_any)
        return text in self.equals_any


@dataclass(frozen=True)
class Condition:
    """A property of the event: one of ``any_of`` (equal, case-insensitive) or ``contains``."""

    field: str
    any_of: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "any_of", tuple(_norm(w) for w in self.any_of))
        object.__setattr__(self, "contains", tuple(_norm(w) for w in self.contains))

    def holds(self, value: object) -> bool:
        if value is None or isinstance(value, dict | list):
            return False
        text = _norm(str(value))
        if self.any_of:
            return text in self.any_of
        return any(word in text for word in self.contains)


@dataclass(frozen=True)
class Signal:
    id: str
    reason: str
    event: str
    category: str
    points: int
    when: tuple[Condition, ...] = ()
    hand_raiser: bool = False


@dataclass(frozen=True)
class Category:
    name: str
    cap: int
    half_life_days: float


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    points: int
    question: str
    form_field: str | None = None
    confirmed_by_title: tuple[str, ...] = ()


@dataclass(frozen=True)
class GradeBand:
    grade: Grade
    min_fit: int
    min_qualification: int
    max_negative: int | None = None


@dataclass(frozen=True)
class Rules:
    version: str
    description: str
    fit: dict[str, tuple[FitRule, ...]]
    categories: dict[str, Category]
    signals: tuple[Signal, ...]
    framework: Literal["BANT", "CHAMP"]
    criteria: tuple[Criterion, ...]
    mql_min_fit: int
    mql_min_engagement: int
    sql_min_fit: int
    sql_min_qualification: int
    nurture_below_engagement: int | None
    grade_bands: tuple[GradeBand, ...]
    grade_fallback: Grade
    hot_from: int
    warm_from: int

    def criterion(self, key: str) -> Criterion | None:
        return next((c for c in self.criteria if c.key == key), None)

"""The scoring rules as typed values: what a rules file says, after it was validated."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, TypeVar

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
# Verdicts on event and profile values are remembered per rule: the same form ids, titles
# and countries come back on event after event. Past this many distinct values a memo starts
# over, so free text (titles, URLs) cannot grow it without bound.
MEMO_SIZE = 65_536
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _remembered(memo: dict[K, V], key: K, decide: Callable[[K], V]) -> V:
    if key in memo:
        return memo[key]
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    verdict = memo[key] = decide(key)
    return verdict


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
class FitPart:
    """What one attribute adds to fit, and why."""

    attribute: str
    points: int
    reason: str


@dataclass(frozen=True)
class Condition:
    """A property of the event: one of ``any_of`` (equal, case-insensitive) or ``contains``."""

    field: str
    any_of: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "any_of", tuple(_norm(w) for w in self.any_of))
        object.__setattr__(self, "contains", tuple(_norm(w) for w in self.contains))

    @cached_property
    def _verdicts(self) -> dict[str, bool]:
        return {}

    def holds(self, value: object) -> bool:
        if isinstance(value, str):
            return _remembered(self._verdicts, value, self._holds)
        if value is None or isinstance(value, dict | list):
            return False
        return self._holds(str(value))

    def _holds(self, value: str) -> bool:
        text = _norm(value)
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

    @cached_property
    def _title_words(self) -> tuple[str, ...]:
        return tuple(word.casefold() for word in self.confirmed_by_title)

    @cached_property
    def _titles(self) -> dict[str, bool]:
        return {}

    def confirmed_by(self, title: str) -> bool:
        """Whether ``title`` names one of ``confirmed_by_title`` (case-insensitive)."""
        if not self.confirmed_by_title:
            return False
        return _remembered(self._titles, title, self._confirms)

    def _confirms(self, title: str) -> bool:
        folded = title.casefold()
        return any(word in folded for word in self._title_words)


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

    @cached_property
    def signals_by_event(self) -> dict[str, tuple[Signal, ...]]:
        """The signals of each event name, in file order: an event is only checked against
        the signals that name it."""
        grouped: dict[str, list[Signal]] = {}
        for signal in self.signals:
            grouped.setdefault(signal.event, []).append(signal)
        return {event: tuple(signals) for event, signals in grouped.items()}

    @cached_property
    def _fit_memo(self) -> dict[tuple[str, str | int], FitPart | None]:
        return {}

    def fit_part(self, attribute: str, value: str | int) -> FitPart | None:
        """The part the first matching rule of ``attribute`` gives ``value``, if any."""
        return _remembered(self._fit_memo, (attribute, value), self._first_match)

    def _first_match(self, key: tuple[str, str | int]) -> FitPart | None:
        attribute, value = key
        return next(
            (
                FitPart(attribute, rule.points, f"{rule.reason} ('{value}')")
                for rule in self.fit.get(attribute, ())
                if rule.matches(value)
            ),
            None,
        )

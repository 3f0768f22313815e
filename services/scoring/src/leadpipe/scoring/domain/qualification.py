"""Qualification (BANT or CHAMP), grade and temperature."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leadpipe.scoring.domain.rules import Answer, Grade, Rules, Temperature

YES = frozenset({"yes", "y", "true", "1", "ja", "confirmed", "approved", "bestätigt"})
NO = frozenset({"no", "n", "false", "0", "nein", "none", "keins", "kein"})


def answer_of(raw: object) -> Answer | None:
    """A yes/no answer from a form or sales field; None when it says neither."""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if raw is None or isinstance(raw, dict | list):
        return None
    text = str(raw).strip().casefold()
    if text in YES:
        return "yes"
    if text in NO:
        return "no"
    if text == "unknown":
        return "unknown"
    return None


@dataclass(frozen=True)
class OpenQuestion:
    criterion: str
    question: str


def qualification_score(answers: Mapping[str, Answer], rules: Rules) -> int:
    return sum(c.points for c in rules.criteria if answers.get(c.key) == "yes")


def open_questions(answers: Mapping[str, Answer], rules: Rules) -> list[OpenQuestion]:
    """The criteria still unknown, each with the question to ask next."""
    return [
        OpenQuestion(c.key, c.question)
        for c in rules.criteria
        if answers.get(c.key, "unknown") == "unknown"
    ]


def grade_of(fit: int, answers: Mapping[str, Answer], rules: Rules) -> Grade:
    qualification = qualification_score(answers, rules)
    negative = sum(1 for c in rules.criteria if answers.get(c.key) == "no")
    for band in rules.grade_bands:
        if (
            fit >= band.min_fit
            and qualification >= band.min_qualification
            and (band.max_negative is None or negative <= band.max_negative)
        ):
            return band.grade
    return rules.grade_fallback


def temperature_of(engagement: int, rules: Rules) -> Temperature:
    if engagement >= rules.hot_from:
        return "hot"
    if engagement >= rules.warm_from:
        return "warm"
    return "cold"

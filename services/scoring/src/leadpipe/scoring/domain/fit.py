"""Fit: how well a lead matches the ideal customer profile, one part per attribute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leadpipe.scoring.domain.rules import Rules


@dataclass(frozen=True)
class FitPart:
    attribute: str
    points: int
    reason: str


def fit_parts(profile: Mapping[str, str | int], rules: Rules) -> dict[str, FitPart]:
    """Per attribute, the first matching rule. Rules files are checked so that the best parts
    add up to at most 100: the fit score is their plain sum."""
    parts: dict[str, FitPart] = {}
    for attribute, attribute_rules in rules.fit.items():
        value = profile.get(attribute)
        if value is None or value == "":
            continue
        for rule in attribute_rules:
            if rule.matches(value):
                parts[attribute] = FitPart(attribute, rule.points, f"{rule.reason} ('{value}')")
                break
    return parts


def fit_score(parts: Mapping[str, FitPart]) -> int:
    return sum(part.points for part in parts.values())

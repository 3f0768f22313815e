"""Fit: how well a lead matches the ideal customer profile, one part per attribute."""

from __future__ import annotations

from collections.abc import Mapping

from leadpipe.scoring.domain.rules import FitPart, Rules

__all__ = ["FitPart", "fit_parts", "fit_score"]


def fit_parts(profile: Mapping[str, str | int], rules: Rules) -> dict[str, FitPart]:
    """Per attribute, the first matching rule. Rules files are checked so that the best parts
    add up to at most 100: the fit score is their plain sum."""
    parts: dict[str, FitPart] = {}
    for attribute in rules.fit:
        value = profile.get(attribute)
        if value is None or value == "":
            continue
        part = rules.fit_part(attribute, value)
        if part is not None:
            parts[attribute] = part
    return parts


def fit_score(parts: Mapping[str, FitPart]) -> int:
    return sum(part.points for part in parts.values())

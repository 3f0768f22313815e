"""Merging an anonymous visitor's history into the known lead it turned out to be."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from leadpipe.scoring.domain.engagement import CategoryPoints, clamp, points
from leadpipe.scoring.domain.lead import LeadState, ScoreChange, fit_changes
from leadpipe.scoring.domain.rules import Answer, Rules


def merge(
    known: LeadState, anonymous: LeadState, at: datetime, rules: Rules
) -> tuple[LeadState, list[ScoreChange]]:
    """The known lead with the anonymous one's engagement, profile gaps and answers added.

    Engagement is brought forward to ``at`` on both sides and summed within each category's cap;
    what the known lead already said wins over what the visitor's history says."""
    engagement = dict(known.engagement)
    changes: list[ScoreChange] = []
    for name, theirs in anonymous.engagement.items():
        category = rules.categories.get(name)
        if category is None:
            continue
        held = engagement.get(name, CategoryPoints(0.0, at))
        before = points(held.value)
        ours = held.forward(at, category)
        value = clamp(ours.value + theirs.at(at, category), 0.0, float(category.cap))
        engagement[name] = CategoryPoints(value, max(at, ours.as_of))
        if points(value) != before:
            changes.append(
                ScoreChange(
                    "engagement",
                    points(value) - before,
                    f"merge.{name}",
                    f"{points(value) - before:+d} {name} from the anonymous visitor's history",
                )
            )
    answers: dict[str, Answer] = dict(anonymous.answers)
    answers.update({k: v for k, v in known.answers.items() if v != "unknown"})
    for criterion in rules.criteria:
        was = known.answers.get(criterion.key, "unknown")
        now = answers.get(criterion.key, "unknown")
        delta = (criterion.points if now == "yes" else 0) - (
            criterion.points if was == "yes" else 0
        )
        if delta:
            changes.append(
                ScoreChange(
                    "qualification",
                    delta,
                    f"merge.{criterion.key}",
                    f"{delta:+d} {rules.framework} {criterion.label} {now} in the visitor's history",
                )
            )
    profile = {**anonymous.profile, **known.profile}
    changes = [*fit_changes(known.profile, profile, rules), *changes]
    merged = replace(
        known,
        stage=known.stage if known.stage is not None else anonymous.stage,
        profile=profile,
        engagement=engagement,
        answers=answers,
        hand_raiser=known.hand_raiser or anonymous.hand_raiser,
        consents=(*known.consents, *anonymous.consents),
    )
    return merged, changes

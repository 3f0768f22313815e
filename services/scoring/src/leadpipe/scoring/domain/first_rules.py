"""The first scoring rules: enough to carry a form post from ``lead`` to ``sql``.

A demo or contact request is a hand-raiser (MQL at once); confirmed budget and authority make
the lead sales-qualified. Points and wording are explained in every change's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from leadpipe.shared.events import Stage

Component = Literal["fit", "engagement", "qualification"]
Answer = Literal["unknown", "yes", "no"]

RULES_VERSION = "first-rules-1"
HAND_RAISER_FORMS = ("demo", "contact")
DECISION_MAKER_TITLES = (
    "ceo",
    "cto",
    "cfo",
    "coo",
    "founder",
    "owner",
    "managing director",
    "vp",
    "vice president",
    "head of",
    "director",
    "geschäftsführer",
    "geschäftsführerin",
    "inhaber",
    "vorstand",
    "leiter",
    "leiterin",
)
YES = frozenset({"yes", "y", "true", "1", "ja", "confirmed", "approved"})
NO = frozenset({"no", "n", "false", "0", "nein", "none"})


@dataclass(frozen=True)
class LeadFacts:
    stage: Stage
    fit: int
    engagement: int
    qualification: int
    budget: Answer
    authority: Answer
    hand_raiser: bool


@dataclass(frozen=True)
class FormPost:
    form_id: str
    title: str | None
    fields: Mapping[str, object]


@dataclass(frozen=True)
class ScoreChange:
    component: Component
    delta: int
    reason: str


@dataclass(frozen=True)
class Assessment:
    changes: tuple[ScoreChange, ...]
    budget: Answer
    authority: Answer
    hand_raiser: bool
    target: Stage | None
    target_reason: str


def answer(value: object) -> Answer:
    text = str(value).strip().lower() if value is not None else ""
    if text in YES:
        return "yes"
    if text in NO:
        return "no"
    return "unknown"


def is_decision_maker(title: str | None) -> bool:
    lowered = (title or "").lower()
    return any(keyword in lowered for keyword in DECISION_MAKER_TITLES)


def clamp(value: int) -> int:
    return max(0, min(100, value))


def assess_form(lead: LeadFacts, form: FormPost) -> Assessment:
    changes: list[ScoreChange] = [
        ScoreChange("engagement", 10, f"+10 submitted form '{form.form_id}'")
    ]
    hand_raiser = lead.hand_raiser or any(
        word in form.form_id.lower() for word in HAND_RAISER_FORMS
    )
    if hand_raiser and not lead.hand_raiser:
        changes.append(
            ScoreChange("engagement", 30, "+30 hand-raiser: asked for a demo or contact")
        )

    authority = lead.authority
    if authority == "unknown" and is_decision_maker(form.title):
        authority = "yes"
        changes.append(ScoreChange("fit", 30, f"+30 title '{form.title}' is a decision maker"))
        changes.append(ScoreChange("qualification", 25, "+25 BANT authority confirmed by title"))

    budget = lead.budget
    stated = answer(form.fields.get("budget"))
    if budget == "unknown" and stated == "yes":
        budget = "yes"
        changes.append(ScoreChange("qualification", 25, "+25 BANT budget confirmed on the form"))

    changes = [change for change in changes if change.delta]
    target: Stage | None = None
    target_reason = ""
    if budget == "yes" and authority == "yes":
        target, target_reason = Stage.SQL, "BANT budget and authority confirmed"
    elif hand_raiser:
        target, target_reason = Stage.MQL, "hand-raiser: demo or contact request"
    return Assessment(tuple(changes), budget, authority, hand_raiser, target, target_reason)


def apply_changes(lead: LeadFacts, changes: tuple[ScoreChange, ...]) -> dict[Component, int]:
    """The new component totals, each kept within 0–100."""
    totals: dict[Component, int] = {
        "fit": lead.fit,
        "engagement": lead.engagement,
        "qualification": lead.qualification,
    }
    for change in changes:
        totals[change.component] = clamp(totals[change.component] + change.delta)
    return totals

"""A lead's scoring state and what one inbound event does to it.

:func:`apply_event` is a pure fold: the live consumer and the what-if replay both run it, so
replaying the same events under the same rules gives the same scores and stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from leadpipe.scoring.domain.consent import ConsentRecord, consents_after, ignored_because
from leadpipe.scoring.domain.engagement import CategoryPoints, clamp, points
from leadpipe.scoring.domain.fit import FitPart, fit_parts, fit_score
from leadpipe.scoring.domain.lifecycle import RANK, Transition, TransitionRefused, transition
from leadpipe.scoring.domain.qualification import answer_of, qualification_score
from leadpipe.scoring.domain.rules import FIT_ATTRIBUTES, Answer, Rules, Signal
from leadpipe.shared.events import InboundEvent, Stage

Component = Literal["fit", "engagement", "qualification"]
PROFILE_TEXT = (
    "first_name",
    "last_name",
    "company",
    "language",
    "title",
    "country",
    "industry",
    "department",
    "revenue",
)
# Every field a profile takes, each once (the fit attributes overlap the text fields).
PROFILE_FIELDS = tuple(dict.fromkeys((*PROFILE_TEXT, *FIT_ATTRIBUTES)))
_NOT_TEXT = (dict, list, bool)

# Sales feedback: event name → the stage it asks for, and how the move is explained.
SALES_MOVES: dict[str, tuple[Stage, str]] = {
    "lead_accepted": (Stage.SAL, "accepted by sales"),
    "lead_rejected": (Stage.NURTURE, "rejected by sales"),
    "lead_qualified": (Stage.SQL, "qualified by sales"),
    "lead_disqualified": (Stage.DISQUALIFIED, "disqualified by sales"),
    "lead_recycled": (Stage.NURTURE, "recycled by sales"),
    "opportunity_created": (Stage.OPPORTUNITY, "opportunity created"),
    "deal_won": (Stage.CUSTOMER, "deal won"),
    "deal_lost": (Stage.NURTURE, "deal lost"),
}
# Moves that only make sense with a reason from the person who made them.
REASON_REQUIRED = frozenset({"lead_disqualified", "lead_recycled"})


@dataclass(frozen=True)
class ScoreChange:
    component: Component
    delta: int
    code: str
    reason: str


@dataclass(frozen=True)
class LeadState:
    stage: Stage | None = None
    profile: Mapping[str, str | int] = field(default_factory=dict)
    engagement: Mapping[str, CategoryPoints] = field(default_factory=dict)
    answers: Mapping[str, Answer] = field(default_factory=dict)
    hand_raiser: bool = False
    contacted_at: datetime | None = None
    consents: tuple[ConsentRecord, ...] = ()


@dataclass(frozen=True)
class Outcome:
    state: LeadState
    changes: tuple[ScoreChange, ...]
    moves: tuple[Transition, ...]
    refused: tuple[TransitionRefused, ...]
    # Why the event was not scored at all (its consent effects still apply); None: scored.
    ignored: str | None = None


def _fields(event: InboundEvent) -> dict[str, JsonValue]:
    return {**event.context, **event.traits, **event.properties}


def _profile(
    before: Mapping[str, str | int], fields: Mapping[str, JsonValue]
) -> dict[str, str | int]:
    profile = dict(before)
    if "company_size" not in fields and "employees" in fields:
        # Segment's reserved group / identify trait for the company's head count.
        fields = {**fields, "company_size": fields["employees"]}
    for name in PROFILE_FIELDS:
        value = fields.get(name)
        if value is None or isinstance(value, _NOT_TEXT):
            continue
        if name == "company_size":
            try:
                profile[name] = int(str(value).strip())
            except ValueError:
                continue
        else:
            text = str(value).strip()
            if text:
                profile[name] = text
    return profile


def fit_changes(
    before: Mapping[str, str | int], profile: Mapping[str, str | int], rules: Rules
) -> list[ScoreChange]:
    """One change per attribute whose fit part differs between two profiles."""
    if before == profile:
        return []
    return _fit_changes(fit_parts(before, rules), fit_parts(profile, rules), rules)


def _fit_changes(
    old: Mapping[str, FitPart], new: Mapping[str, FitPart], rules: Rules
) -> list[ScoreChange]:
    changes = []
    for attribute in rules.fit:
        was = old[attribute].points if attribute in old else 0
        now = new[attribute].points if attribute in new else 0
        if was == now:
            continue
        reason = new[attribute].reason if attribute in new else f"{attribute} no longer matches"
        changes.append(
            ScoreChange("fit", now - was, f"fit.{attribute}", f"{now - was:+d} {reason}")
        )
    return changes


def _signals(event: InboundEvent, fields: Mapping[str, JsonValue], rules: Rules) -> list[Signal]:
    return [
        signal
        for signal in rules.signals_by_event.get(event.name, ())
        if all(c.holds(fields.get(c.field)) for c in signal.when)
    ]


def _engagement(
    state: LeadState, signals: list[Signal], at: datetime, rules: Rules
) -> tuple[dict[str, CategoryPoints], list[ScoreChange]]:
    held = dict(state.engagement)
    changes: list[ScoreChange] = []
    for signal in signals:
        category = rules.categories[signal.category]
        current = held.get(signal.category)
        # The category brought forward to ``at`` as plain numbers, each rounded once: the
        # intermediate CategoryPoints and repeated rounding were a fifth of this function.
        if current is None:
            brought, as_of, decay = 0.0, at, 0
        else:
            brought, as_of = current.at(at, category), max(at, current.as_of)
            decay = points(brought) - points(current.value)
        if decay:
            changes.append(
                ScoreChange(
                    "engagement",
                    decay,
                    f"decay.{signal.category}",
                    f"{decay:+d} decay of {signal.category} "
                    f"(half-life {category.half_life_days:g} days)",
                )
            )
        value = clamp(brought + signal.points, 0.0, float(category.cap))
        delta = points(value) - points(brought)
        held[signal.category] = CategoryPoints(value, as_of)
        if delta:
            capped = points(value) != points(brought + signal.points)
            note = f" ({signal.category} capped at {category.cap})" if capped and delta > 0 else ""
            changes.append(
                ScoreChange(
                    "engagement", delta, f"signal.{signal.id}", f"{delta:+d} {signal.reason}{note}"
                )
            )
    return held, changes


def _answers(
    state: LeadState,
    event: InboundEvent,
    fields: Mapping[str, JsonValue],
    profile: Mapping[str, str | int],
    rules: Rules,
) -> tuple[dict[str, Answer], list[ScoreChange]]:
    answers = dict(state.answers)
    changes: list[ScoreChange] = []
    by_sales = event.name == "lead_qualified"
    raw_answers = fields.get("answers")
    given = raw_answers if isinstance(raw_answers, dict) else {}
    title = profile.get("title")
    for criterion in rules.criteria:
        before = answers.get(criterion.key, "unknown")
        stated: Answer | None = None
        if by_sales:
            stated = answer_of(given.get(criterion.key, fields.get(criterion.key)))
            how = "by sales"
        else:
            if criterion.form_field is not None:
                stated = answer_of(fields.get(criterion.form_field))
            how = "on the form"
        if (
            stated is None
            and before == "unknown"
            and isinstance(title, str)
            and criterion.confirmed_by(title)
        ):
            stated, how = "yes", f"by title '{title}'"
        if stated is None or stated == before:
            continue
        answers[criterion.key] = stated
        delta = (criterion.points if stated == "yes" else 0) - (
            criterion.points if before == "yes" else 0
        )
        verb = {"yes": "confirmed", "no": "denied", "unknown": "unclear again"}[stated]
        changes.append(
            ScoreChange(
                "qualification",
                delta,
                f"qualification.{criterion.key}",
                f"{delta:+d} {rules.framework} {criterion.label} {verb} {how}",
            )
        )
    return answers, changes


@dataclass
class _Moves:
    stage: Stage | None
    moves: list[Transition] = field(default_factory=list)
    refused: list[TransitionRefused] = field(default_factory=list)

    def to(self, target: Stage, reason: str) -> bool:
        try:
            step = transition(self.stage, target, reason)
        except TransitionRefused as refusal:
            self.refused.append(refusal)
            return False
        self.moves.append(step)
        self.stage = step.to_stage
        return True


def apply_event(state: LeadState, event: InboundEvent, rules: Rules) -> Outcome:
    """What ``event`` changes for a lead in ``state`` under ``rules``: its scores with one
    explained change per part, and its stage moves (refused ones included). A tracking call
    of a person who withdrew consent changes nothing but the consent records."""
    at = event.occurred_at
    consents = consents_after(state.consents, event)
    ignored = ignored_because(state.consents, event)
    if ignored is not None:
        kept = state if consents is state.consents else replace(state, consents=consents)
        return Outcome(kept, (), (), (), ignored)
    fields = _fields(event)
    profile = _profile(state.profile, fields)
    parts = fit_parts(profile, rules)
    unchanged = profile == state.profile
    changes = [] if unchanged else _fit_changes(fit_parts(state.profile, rules), parts, rules)
    signals = _signals(event, fields, rules)
    engagement, engagement_changes = _engagement(state, signals, at, rules)
    answers, answer_changes = _answers(state, event, fields, profile, rules)
    hand_raised = any(s.hand_raiser for s in signals)
    contacted_at = state.contacted_at
    if event.name == "lead_contacted" and contacted_at is None:
        contacted_at = at
    moves = _Moves(state.stage)
    if state.stage is None:
        moves.to(Stage.LEAD, f"new lead from {event.source}")
    if event.name in SALES_MOVES:
        target, what = SALES_MOVES[event.name]
        given = fields.get("reason")
        why = str(given).strip() if given is not None and not isinstance(given, dict | list) else ""
        if event.name in REASON_REQUIRED and not why:
            moves.refused.append(
                TransitionRefused(moves.stage, target, f"{event.name} needs a reason")
            )
        else:
            moves.to(target, f"{what}: {why}" if why else what)
    else:
        _automatic(moves, fit_score(parts), engagement, answers, hand_raised, signals, rules)
    after = LeadState(
        stage=moves.stage,
        profile=profile,
        engagement=engagement,
        answers=answers,
        hand_raiser=state.hand_raiser or hand_raised,
        contacted_at=contacted_at,
        consents=consents,
    )
    return Outcome(
        after,
        (*changes, *engagement_changes, *answer_changes),
        tuple(moves.moves),
        tuple(moves.refused),
    )


def _automatic(
    moves: _Moves,
    fit: int,
    held: Mapping[str, CategoryPoints],
    answers: Mapping[str, Answer],
    hand_raised: bool,
    signals: list[Signal],
    rules: Rules,
) -> None:
    """Threshold and hand-raiser moves: only ever forward, one allowed step at a time.

    A disqualified lead comes back only by raising its hand again: its old scores were there
    when sales disqualified it, so crossing a threshold with them again means nothing new."""
    if moves.stage == Stage.DISQUALIFIED and not hand_raised:
        return
    engagement = sum(points(c.value) for c in held.values())
    qualification = qualification_score(answers, rules)
    stage = moves.stage or Stage.LEAD
    mql_reason = None
    if hand_raised:
        raised = next(s for s in signals if s.hand_raiser)
        mql_reason = f"hand-raiser: {raised.reason}"
    elif fit >= rules.mql_min_fit and engagement >= rules.mql_min_engagement:
        mql_reason = (
            f"fit {fit} ≥ {rules.mql_min_fit} and engagement {engagement} ≥ "
            f"{rules.mql_min_engagement}"
        )
    sql = fit >= rules.sql_min_fit and qualification >= rules.sql_min_qualification
    if mql_reason is not None and RANK[stage] < RANK[Stage.MQL]:
        moves.to(Stage.MQL, mql_reason)
    stage = moves.stage or Stage.LEAD
    if sql and RANK[stage] < RANK[Stage.SQL]:
        confirmed = ", ".join(c.label for c in rules.criteria if answers.get(c.key) == "yes")
        moves.to(
            Stage.SQL,
            f"qualification {qualification} ≥ {rules.sql_min_qualification} "
            f"({rules.framework} {confirmed} confirmed) and fit {fit} ≥ {rules.sql_min_fit}",
        )

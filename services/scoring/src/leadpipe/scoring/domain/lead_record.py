"""A lead as stored (:class:`LeadRecord`, the consumer's and the sweeper's plain copy of its row)
and the way between it and the domain's :class:`LeadState`: JSON ↔ typed values, and the
scores, grade, temperature and recycling moment a state implies at a given time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from leadpipe.scoring.domain.consent import ConsentRecord
from leadpipe.scoring.domain.engagement import CategoryPoints, engagement_at, engagement_recorded
from leadpipe.scoring.domain.fit import fit_parts, fit_score
from leadpipe.scoring.domain.lead import LeadState
from leadpipe.scoring.domain.qualification import grade_of, qualification_score, temperature_of
from leadpipe.scoring.domain.recycling import recycle_at
from leadpipe.scoring.domain.rules import Answer, Rules
from leadpipe.shared.events import Stage


@dataclass(slots=True)
class LeadRecord:
    """The columns of ``scoring.leads`` the pipeline reads and writes (all but created_at)."""

    id: str
    lead_key: str
    email: str | None
    anonymous_id: str | None
    stage: str
    rules_version: str
    source: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    country: str | None = None
    industry: str | None = None
    company_size: int | None = None
    language: str | None = None
    account_domain: str | None = None
    fit: int = 0
    engagement: int = 0
    qualification: int = 0
    grade: str | None = None
    temperature: str = "cold"
    profile: dict[str, Any] = field(default_factory=dict)
    engagement_state: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    consents: list[dict[str, Any]] = field(default_factory=list)
    hand_raiser: bool = False
    contacted_at: datetime | None = None
    recycle_at: datetime | None = None
    merged_into: str | None = None
    updated_at: datetime | None = None


# Profile attributes that also have their own column (for the snapshot and for filters).
PROFILE_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    "title",
    "country",
    "industry",
    "company_size",
    "language",
)


class StoredLead(Protocol):
    """What a lead's state is read from: the consumer's :class:`LeadRecord` or the API's ORM
    row."""

    @property
    def stage(self) -> str: ...
    @property
    def profile(self) -> dict[str, Any]: ...
    @property
    def engagement_state(self) -> dict[str, Any]: ...
    @property
    def answers(self) -> dict[str, Any]: ...
    @property
    def consents(self) -> list[dict[str, Any]]: ...
    @property
    def hand_raiser(self) -> bool: ...
    @property
    def contacted_at(self) -> datetime | None: ...


def state_of(lead: StoredLead, *, new: bool = False) -> LeadState:
    return LeadState(
        stage=None if new else Stage(lead.stage),
        profile=dict(lead.profile or {}),
        engagement={
            name: CategoryPoints(float(held["value"]), datetime.fromisoformat(held["as_of"]))
            for name, held in (lead.engagement_state or {}).items()
        },
        answers=cast("dict[str, Answer]", dict(lead.answers or {})),
        hand_raiser=lead.hand_raiser,
        contacted_at=lead.contacted_at,
        consents=tuple(ConsentRecord.from_json(c) for c in lead.consents) if lead.consents else (),
    )


def engagement_json(state: LeadState) -> dict[str, Any]:
    return {
        name: {"value": held.value, "as_of": held.as_of.isoformat()}
        for name, held in state.engagement.items()
    }


def store_state(lead: LeadRecord, state: LeadState, rules: Rules, now: datetime) -> None:
    """Write ``state`` and the scores it implies onto the row."""
    assert state.stage is not None
    lead.stage = state.stage.value
    lead.profile = dict(state.profile)
    for column in PROFILE_COLUMNS:
        value = state.profile.get(column)
        if value is not None:
            setattr(lead, column, value)
    lead.engagement_state = engagement_json(state)
    lead.answers = dict(state.answers)
    if state.consents or lead.consents:
        lead.consents = [record.as_json() for record in state.consents]
    lead.hand_raiser = state.hand_raiser
    lead.contacted_at = state.contacted_at
    lead.fit = fit_score(fit_parts(state.profile, rules))
    lead.engagement = engagement_recorded(state.engagement)
    lead.qualification = qualification_score(state.answers, rules)
    lead.grade = grade_of(lead.fit, state.answers, rules)
    lead.temperature = temperature_of(engagement_at(state.engagement, rules.categories, now), rules)
    lead.recycle_at = recycle_at(state, rules, now)
    lead.rules_version = rules.version
    lead.updated_at = now

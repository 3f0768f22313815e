"""What scoring's read models answer: a lead with its explanations, a page of leads, a what-if
report. The API returns them as they are."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ScoreReason(BaseModel):
    component: str
    delta: int
    reason: str
    code: str
    event_id: str | None = Field(description="None for decay since the last event (on read).")
    rules_version: str | None
    at: datetime


class StageMove(BaseModel):
    from_stage: str | None
    to_stage: str
    reason: str
    refused: bool
    event_id: str
    at: datetime


class OpenQuestion(BaseModel):
    criterion: str
    question: str


class ConsentOut(BaseModel):
    purpose: str
    text_version: str | None = Field(description="Version of the consent text the person saw.")
    given_at: datetime | None = Field(description="None: withdrawn, never recorded as given.")
    source: str = Field(description="The source the consent came from, e.g. form:demo.")
    withdrawn: bool
    withdrawn_at: datetime | None
    withdrawn_via: str | None = Field(description="The source the withdrawal came from.")


class LeadView(BaseModel):
    id: str
    lead_key: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    account_domain: str | None
    stage: str
    fit: int
    engagement: int = Field(description="Now, after decay since the last event.")
    qualification: int
    grade: str | None
    temperature: str
    answers: dict[str, str]
    rules_version: str
    updated_at: datetime
    reasons: list[ScoreReason]
    history: list[StageMove]
    open_questions: list[OpenQuestion]
    consents: list[ConsentOut] = Field(default_factory=list)
    tracking_stopped: bool = Field(
        default=False,
        description="Consent was withdrawn and not given again since: the person's tracking "
        "calls are not scored (forms and sales feedback still are).",
    )


class LeadSummary(BaseModel):
    id: str
    email: str | None
    company: str | None
    stage: str
    fit: int
    engagement: int
    qualification: int
    grade: str | None
    temperature: str
    updated_at: datetime


class LeadPage(BaseModel):
    leads: list[LeadSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; None: done.")


class StageShift(BaseModel):
    lead_id: str
    email: str | None
    from_stage: str
    to_stage: str
    why: str


class WhatIfReport(BaseModel):
    draft_version: str
    leads: int
    changed: int
    by_stage: dict[str, int] = Field(description="'live → draft' stage pairs and their counts.")
    shifts: list[StageShift]

"""Response models of scoring's read API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ScoreReason(BaseModel):
    component: str
    delta: int
    reason: str
    event_id: str
    at: datetime


class StageMove(BaseModel):
    from_stage: str | None
    to_stage: str
    reason: str
    refused: bool
    event_id: str
    at: datetime


class LeadView(BaseModel):
    id: str
    lead_key: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    stage: str
    fit: int
    engagement: int
    qualification: int
    rules_version: str
    reasons: list[ScoreReason]
    history: list[StageMove]
    open_questions: list[str]

"""Request and response models of routing's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field


class RepIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    role: Literal["bdr", "ae"]


class RepOut(BaseModel):
    id: str
    name: str
    email: str
    role: str
    active: bool


class AssignmentOut(BaseModel):
    id: str
    lead_id: str
    rep: RepOut | None
    kind: str
    stage: str
    rule: str
    reason: str
    trace: dict[str, Any]
    created_at: datetime

"""An assignment as a batch holds it: a plain object whose fields are the columns of
``routing.assignments``; the lead it was routed as travels with it as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from leadpipe.routing.domain.reps import LeadProfile


@dataclass(slots=True)
class AssignmentRecord:
    """The columns of ``routing.assignments``."""

    id: str
    lead_id: str
    lead_key: str
    rep_id: str | None
    kind: str
    status: str
    stage: str
    role: str
    pool: str
    rule: str
    reason: str
    trace: dict[str, Any]
    lead: dict[str, Any]
    cause_event_id: str
    previous_assignment_id: str | None
    sla_due_at: datetime | None
    sla_state: str | None
    contacted_at: datetime | None
    closed_at: datetime | None
    closed_reason: str | None
    created_at: datetime


def lead_as_json(lead: LeadProfile) -> dict[str, Any]:
    return {f.name: getattr(lead, f.name) for f in fields(lead)}


def lead_from_json(stored: Mapping[str, Any]) -> LeadProfile:
    return LeadProfile(**stored)

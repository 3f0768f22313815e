"""Assignments with their decision traces, per lead, and the fallback queue."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import Select, select

from leadpipe.routing.adapters.orm import AssignmentRow, RepRow
from leadpipe.routing.entrypoints.api.reps import rep_out, sessions_of
from leadpipe.routing.entrypoints.api.schemas import AssignmentOut

router = APIRouter(prefix="/v1", tags=["assignments"])


def assignment_out(a: AssignmentRow, rep: RepRow | None) -> AssignmentOut:
    return AssignmentOut(
        id=a.id,
        lead_id=a.lead_id,
        rep=rep_out(rep) if rep is not None else None,
        kind=a.kind,
        status=a.status,
        stage=a.stage,
        pool=a.pool,
        rule=a.rule,
        reason=a.reason,
        trace=a.trace,
        sla_due_at=a.sla_due_at,
        sla_state=a.sla_state,
        contacted_at=a.contacted_at,
        closed_at=a.closed_at,
        closed_reason=a.closed_reason,
        created_at=a.created_at,
    )


def _with_reps() -> Select[AssignmentRow, RepRow]:
    """Assignments, oldest first, with their reps; a queued one has none."""
    return (
        select(AssignmentRow, RepRow)
        .outerjoin(RepRow, RepRow.id == AssignmentRow.rep_id)
        .order_by(AssignmentRow.created_at, AssignmentRow.id)
    )


@router.get("/leads/{lead_id}/assignments", response_model=list[AssignmentOut])
async def lead_assignments(request: Request, lead_id: str) -> list[AssignmentOut]:
    """The lead's routing history, oldest first, each with its decision trace."""
    async with sessions_of(request)() as session:
        rows = (await session.execute(_with_reps().where(AssignmentRow.lead_id == lead_id))).all()
        return [assignment_out(a, rep) for a, rep in rows]


@router.get("/assignments", response_model=list[AssignmentOut])
async def list_assignments(
    request: Request,
    status: Literal["open", "queued", "closed"] = Query("queued"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[AssignmentOut]:
    """``status=queued`` is the fallback queue, oldest first."""
    async with sessions_of(request)() as session:
        rows = (
            await session.execute(_with_reps().where(AssignmentRow.status == status).limit(limit))
        ).all()
        return [assignment_out(a, rep) for a, rep in rows]

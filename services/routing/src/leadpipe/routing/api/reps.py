"""Reps and assignments over HTTP."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import AssignmentRow, RepRow
from leadpipe.routing.api.schemas import AssignmentOut, RepIn, RepOut

router = APIRouter(prefix="/v1", tags=["reps"])


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def _rep_out(rep: RepRow) -> RepOut:
    return RepOut(id=rep.id, name=rep.name, email=rep.email, role=rep.role, active=rep.active)


@router.get("/reps", response_model=list[RepOut])
async def list_reps(request: Request) -> list[RepOut]:
    async with _sessions(request)() as session:
        reps = (await session.execute(select(RepRow).order_by(RepRow.name))).scalars().all()
    return [_rep_out(rep) for rep in reps]


@router.post("/reps", response_model=RepOut, status_code=201)
async def add_rep(request: Request, rep: RepIn) -> RepOut:
    row = RepRow(
        id=str(uuid.uuid4()), name=rep.name, email=rep.email.lower(), role=rep.role, active=True
    )
    try:
        async with _sessions(request)() as session, session.begin():
            session.add(row)
    except IntegrityError as exc:
        raise HTTPException(
            409, detail={"field": "email", "reason": "a rep with this email exists"}
        ) from exc
    return _rep_out(row)


@router.get("/leads/{lead_id}/assignments", response_model=list[AssignmentOut])
async def lead_assignments(request: Request, lead_id: str) -> list[AssignmentOut]:
    async with _sessions(request)() as session:
        rows = (
            await session.execute(
                select(AssignmentRow, RepRow)
                .outerjoin(RepRow, RepRow.id == AssignmentRow.rep_id)
                .where(AssignmentRow.lead_id == lead_id)
                .order_by(AssignmentRow.created_at)
            )
        ).all()
    return [
        AssignmentOut(
            id=a.id,
            lead_id=a.lead_id,
            rep=_rep_out(rep) if rep is not None else None,
            kind=a.kind,
            stage=a.stage,
            rule=a.rule,
            reason=a.reason,
            trace=a.trace,
            created_at=a.created_at,
        )
        for a, rep in rows
    ]

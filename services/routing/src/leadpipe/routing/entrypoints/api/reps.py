"""Reps over HTTP: list, add, change, deactivate, and a bulk import (upsert by email)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters import repository
from leadpipe.routing.adapters.orm import RepRow
from leadpipe.routing.entrypoints.api.errors import ApiError
from leadpipe.routing.entrypoints.api.schemas import ImportResult, RepImport, RepIn, RepOut

router = APIRouter(prefix="/v1", tags=["reps"])


def sessions_of(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def rep_out(rep: RepRow, open_leads: int = 0) -> RepOut:
    return RepOut(
        id=rep.id,
        name=rep.name,
        email=rep.email,
        role=rep.role,
        active=rep.active,
        territories=list(rep.territories),
        segments=list(rep.segments),
        languages=list(rep.languages),
        capacity=rep.capacity,
        weight=rep.weight,
        time_zone=rep.time_zone,
        working_hours=rep.working_hours,
        holiday_calendar=rep.holiday_calendar,
        out_of_office=list(rep.out_of_office),
        open_leads=open_leads,
    )


def apply(row: RepRow, rep: RepIn) -> None:
    row.name = rep.name
    row.email = str(rep.email).lower()
    row.role = rep.role
    row.active = rep.active
    row.territories = rep.territories
    row.segments = list(rep.segments)
    row.languages = rep.languages
    row.capacity = rep.capacity
    row.weight = rep.weight
    row.time_zone = rep.time_zone
    row.working_hours = rep.working_hours
    row.holiday_calendar = rep.holiday_calendar
    row.out_of_office = rep.out_of_office


async def _by_email(session: AsyncSession, email: str) -> RepRow | None:
    return (
        await session.execute(select(RepRow).where(RepRow.email == email.lower()))
    ).scalar_one_or_none()


@router.get("/reps", response_model=list[RepOut])
async def list_reps(request: Request) -> list[RepOut]:
    async with sessions_of(request)() as session:
        reps = (await session.execute(select(RepRow).order_by(RepRow.name))).scalars().all()
        counts = await repository.open_lead_counts(session)
    return [rep_out(rep, counts.get(rep.id, 0)) for rep in reps]


@router.post("/reps", response_model=RepOut, status_code=201)
async def add_rep(request: Request, rep: RepIn) -> RepOut:
    async with sessions_of(request)() as session, session.begin():
        if await _by_email(session, str(rep.email)) is not None:
            raise ApiError(409, "email", "a rep with this email exists")
        row = RepRow(id=str(uuid.uuid4()))
        apply(row, rep)
        session.add(row)
    return rep_out(row)


@router.get("/reps/{rep_id}", response_model=RepOut)
async def get_rep(request: Request, rep_id: str) -> RepOut:
    async with sessions_of(request)() as session:
        row = await session.get(RepRow, rep_id)
        if row is None:
            raise ApiError(404, "rep_id", "no such rep")
        counts = await repository.open_lead_counts(session)
    return rep_out(row, counts.get(row.id, 0))


@router.put("/reps/{rep_id}", response_model=RepOut)
async def replace_rep(request: Request, rep_id: str, rep: RepIn) -> RepOut:
    """Replace every attribute of the rep (e.g. out-of-office, working hours). Their open
    leads stay theirs; new leads follow the new attributes at once."""
    async with sessions_of(request)() as session, session.begin():
        row = await session.get(RepRow, rep_id, with_for_update=True)
        if row is None:
            raise ApiError(404, "rep_id", "no such rep")
        other = await _by_email(session, str(rep.email))
        if other is not None and other.id != rep_id:
            raise ApiError(409, "email", "another rep has this email")
        apply(row, rep)
    return rep_out(row)


@router.delete("/reps/{rep_id}", response_model=RepOut)
async def deactivate_rep(request: Request, rep_id: str) -> RepOut:
    """Reps are deactivated, not deleted: their assignments and traces keep naming them."""
    async with sessions_of(request)() as session, session.begin():
        row = await session.get(RepRow, rep_id, with_for_update=True)
        if row is None:
            raise ApiError(404, "rep_id", "no such rep")
        row.active = False
    return rep_out(row)


@router.post("/reps/import", response_model=ImportResult)
async def import_reps(request: Request, body: RepImport) -> ImportResult:
    """Create or update reps by email, all or nothing."""
    emails = [str(rep.email).lower() for rep in body.reps]
    for index, email in enumerate(emails):
        if email in emails[:index]:
            raise ApiError(422, f"reps.{index}.email", f"{email} appears twice")
    created = updated = 0
    async with sessions_of(request)() as session, session.begin():
        for rep in body.reps:
            row = await _by_email(session, str(rep.email))
            if row is None:
                row = RepRow(id=str(uuid.uuid4()))
                session.add(row)
                created += 1
            else:
                updated += 1
            apply(row, rep)
    return ImportResult(created=created, updated=updated)

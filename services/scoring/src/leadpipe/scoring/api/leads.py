"""The lead read API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.lead_view import find_lead
from leadpipe.scoring.api.schemas import LeadView

router = APIRouter(prefix="/v1/leads", tags=["leads"])


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


@router.get("", response_model=LeadView)
async def lead_by_email(request: Request, email: Annotated[str, Query(min_length=3)]) -> LeadView:
    async with _sessions(request)() as session:
        view = await find_lead(session, email=email, lead_id=None)
    if view is None:
        raise HTTPException(404, detail={"field": "email", "reason": "no lead with this email"})
    return view


@router.get("/{lead_id}", response_model=LeadView)
async def lead_by_id(request: Request, lead_id: str) -> LeadView:
    async with _sessions(request)() as session:
        view = await find_lead(session, email=None, lead_id=lead_id)
    if view is None:
        raise HTTPException(404, detail={"field": "lead_id", "reason": "no lead with this id"})
    return view

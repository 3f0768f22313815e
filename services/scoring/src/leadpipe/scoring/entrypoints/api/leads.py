"""The lead read API: one lead with its explanations, or a filtered page of leads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.lead_view import BadCursor, LeadFilter, find_lead, list_leads
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.service.views import LeadPage, LeadView
from leadpipe.shared.api_input import Instant
from leadpipe.shared.events import Stage
from leadpipe.shared.problems import Problem


def sessions_of(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def leads_router(rules: RulesCache) -> APIRouter:
    router = APIRouter(prefix="/v1/leads", tags=["leads"])

    @router.get("", response_model=LeadView | LeadPage)
    async def leads(
        request: Request,
        email: Annotated[
            str | None, Query(min_length=3, description="Show this one lead in full.")
        ] = None,
        stage: Stage | None = None,
        grade: Literal["A", "B", "C"] | None = None,
        temperature: Literal["cold", "warm", "hot"] | None = None,
        updated_since: Instant | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> LeadView | LeadPage:
        """With ``email``: that lead with its scores, reasons, history and open questions.
        Without: a page of leads, most recently updated first, filtered."""
        async with sessions_of(request)() as session:
            if email is not None:
                view = await find_lead(
                    session,
                    await rules.active(session),
                    datetime.now(UTC),
                    email=email,
                    lead_id=None,
                )
                if view is None:
                    raise Problem(404, "email", "no lead with this email")
                return view
            try:
                return await list_leads(
                    session,
                    LeadFilter(
                        stage=stage.value if stage else None,
                        grade=grade,
                        temperature=temperature,
                        updated_since=updated_since,
                    ),
                    cursor=cursor,
                    limit=limit,
                )
            except BadCursor as exc:
                raise Problem(422, "cursor", str(exc)) from exc

    @router.get("/{lead_id}", response_model=LeadView)
    async def lead_by_id(request: Request, lead_id: str) -> LeadView:
        async with sessions_of(request)() as session:
            view = await find_lead(
                session, await rules.active(session), datetime.now(UTC), email=None, lead_id=lead_id
            )
        if view is None:
            raise Problem(404, "lead_id", "no lead with this id")
        return view

    return router

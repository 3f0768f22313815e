"""Reads a lead with its explanations for the read API."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.orm import LeadRow, ScoreChangeRow, StageChangeRow
from leadpipe.scoring.api.schemas import LeadView, ScoreReason, StageMove


async def find_lead(
    session: AsyncSession, *, email: str | None, lead_id: str | None
) -> LeadView | None:
    query = select(LeadRow)
    if lead_id is not None:
        query = query.where(LeadRow.id == lead_id)
    elif email is not None:
        query = query.where(LeadRow.email == email.strip().lower())
    else:
        return None
    lead = (await session.execute(query)).scalar_one_or_none()
    if lead is None:
        return None
    reasons = (
        await session.execute(
            select(ScoreChangeRow)
            .where(ScoreChangeRow.lead_id == lead.id)
            .order_by(ScoreChangeRow.id)
        )
    ).scalars()
    moves = (
        await session.execute(
            select(StageChangeRow)
            .where(StageChangeRow.lead_id == lead.id)
            .order_by(StageChangeRow.id)
        )
    ).scalars()
    open_questions = []
    if lead.budget == "unknown":
        open_questions.append("budget: Is there a budget set aside for this, and roughly how much?")
    if lead.authority == "unknown":
        open_questions.append("authority: Who else decides on this purchase?")
    return LeadView(
        id=lead.id,
        lead_key=lead.lead_key,
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        title=lead.title,
        stage=lead.stage,
        fit=lead.fit,
        engagement=lead.engagement,
        qualification=lead.qualification,
        rules_version=lead.rules_version,
        reasons=[
            ScoreReason(
                component=r.component,
                delta=r.delta,
                reason=r.reason,
                event_id=r.event_id,
                at=r.created_at,
            )
            for r in reasons
        ],
        history=[
            StageMove(
                from_stage=m.from_stage,
                to_stage=m.to_stage,
                reason=m.reason,
                refused=m.refused,
                event_id=m.event_id,
                at=m.created_at,
            )
            for m in moves
        ],
        open_questions=open_questions,
    )

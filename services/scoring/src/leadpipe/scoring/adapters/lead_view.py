"""Reads leads with their explanations for the read API and the CLI."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.orm import LeadRow, ScoreChangeRow, StageChangeRow
from leadpipe.scoring.domain.consent import tracking_stopped
from leadpipe.scoring.domain.engagement import engagement_at, engagement_recorded
from leadpipe.scoring.domain.lead_record import state_of
from leadpipe.scoring.domain.qualification import open_questions, temperature_of
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.service.views import (
    ConsentOut,
    LeadPage,
    LeadSummary,
    LeadView,
    OpenQuestion,
    ScoreReason,
    StageMove,
)
from leadpipe.shared.api_input import bounded_instant, text_problem


async def find_lead(
    session: AsyncSession, rules: Rules, now: datetime, *, email: str | None, lead_id: str | None
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
    state = state_of(lead)
    engagement = engagement_at(state.engagement, rules.categories, now)
    explained = [
        ScoreReason(
            component=r.component,
            delta=r.delta,
            reason=r.reason,
            code=r.code,
            event_id=r.event_id,
            rules_version=r.rules_version,
            at=r.created_at,
        )
        for r in reasons
    ]
    # The reasons add up to the stored total; decay since the last event closes the gap.
    since = engagement - engagement_recorded(state.engagement)
    if since:
        explained.append(
            ScoreReason(
                component="engagement",
                delta=since,
                reason=f"{since:+d} decay since the last activity",
                code="decay.since-last-event",
                event_id=None,
                rules_version=rules.version,
                at=now,
            )
        )
    return LeadView(
        id=lead.id,
        lead_key=lead.lead_key,
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        title=lead.title,
        account_domain=lead.account_domain,
        stage=lead.stage,
        fit=lead.fit,
        engagement=engagement,
        qualification=lead.qualification,
        grade=lead.grade,
        temperature=temperature_of(engagement, rules),
        answers={c.key: state.answers.get(c.key, "unknown") for c in rules.criteria},
        rules_version=lead.rules_version,
        updated_at=lead.updated_at,
        reasons=explained,
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
        open_questions=[
            OpenQuestion(criterion=q.criterion, question=q.question)
            for q in open_questions(state.answers, rules)
        ],
        consents=[
            ConsentOut(
                purpose=c.purpose,
                text_version=c.text_version,
                given_at=c.given_at,
                source=c.source,
                withdrawn=c.withdrawn_at is not None,
                withdrawn_at=c.withdrawn_at,
                withdrawn_via=c.withdrawn_via,
            )
            for c in state.consents
        ],
        tracking_stopped=tracking_stopped(state.consents),
    )


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class LeadFilter:
    stage: str | None = None
    grade: str | None = None
    temperature: str | None = None
    updated_since: datetime | None = None


def encode_cursor(updated_at: datetime, lead_id: str) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{lead_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, lead_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        if text_problem(lead_id) is not None:
            raise ValueError("unstorable lead id")
        return bounded_instant(datetime.fromisoformat(at)), lead_id
    except (ValueError, UnicodeError) as exc:
        raise BadCursor("is not a cursor this API returned") from exc


async def list_leads(
    session: AsyncSession, filters: LeadFilter, *, cursor: str | None, limit: int
) -> LeadPage:
    """Leads, most recently updated first. Keyset pagination on (updated_at, id): a page stays
    correct while leads keep changing (a lead updated meanwhile moves to the front)."""
    query = select(LeadRow).where(LeadRow.merged_into.is_(None))
    if filters.stage is not None:
        query = query.where(LeadRow.stage == filters.stage)
    if filters.grade is not None:
        query = query.where(LeadRow.grade == filters.grade)
    if filters.temperature is not None:
        query = query.where(LeadRow.temperature == filters.temperature)
    if filters.updated_since is not None:
        query = query.where(LeadRow.updated_at >= filters.updated_since)
    if cursor is not None:
        at, lead_id = decode_cursor(cursor)
        query = query.where(
            or_(LeadRow.updated_at < at, and_(LeadRow.updated_at == at, LeadRow.id < lead_id))
        )
    rows = (
        (
            await session.execute(
                query.order_by(LeadRow.updated_at.desc(), LeadRow.id.desc()).limit(limit + 1)
            )
        )
        .scalars()
        .all()
    )
    page = rows[:limit]
    more = len(rows) > limit
    return LeadPage(
        leads=[
            LeadSummary(
                id=r.id,
                email=r.email,
                company=r.company,
                stage=r.stage,
                fit=r.fit,
                engagement=r.engagement,
                qualification=r.qualification,
                grade=r.grade,
                temperature=r.temperature,
                updated_at=r.updated_at,
            )
            for r in page
        ],
        next_cursor=encode_cursor(page[-1].updated_at, page[-1].id) if more and page else None,
    )

"""One function per inbound event: load, decide, save, emit — inside the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.orm import (
    LeadRow,
    ProcessedEventRow,
    ScoreChangeRow,
    StageChangeRow,
    outbox,
)
from leadpipe.scoring.domain.first_rules import (
    RULES_VERSION,
    FormPost,
    LeadFacts,
    apply_changes,
    assess_form,
)
from leadpipe.scoring.domain.lifecycle import TransitionRefused, is_advance, transition
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import InboundEvent, LeadSnapshot, Stage, StageChanged
from leadpipe.shared.outbox import enqueue
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)
SOURCE = "/leadpipe/scoring"


@dataclass(frozen=True)
class HandlerContext:
    session: AsyncSession
    topics: Topics


class InboundHandler:
    """Handles ``lead.events.v1`` events; plugged into the shared transactional batch loop."""

    def __init__(self, topics: Topics) -> None:
        self._topics = topics

    async def __call__(self, session: AsyncSession, event: InboundEvent) -> None:
        await handle_inbound(HandlerContext(session, self._topics), event)


async def first_delivery(session: AsyncSession, event_id: str) -> bool:
    """Record the event as processed; False when it was processed before."""
    inserted = await session.execute(
        pg_insert(ProcessedEventRow)
        .values(event_id=event_id)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProcessedEventRow.event_id)
    )
    return inserted.first() is not None


def _text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    return str(value).strip() or None if value is not None else None


def _int(fields: Mapping[str, object], name: str) -> int | None:
    value = fields.get(name)
    try:
        return int(str(value)) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _facts(lead: LeadRow) -> LeadFacts:
    return LeadFacts(
        stage=Stage(lead.stage),
        fit=lead.fit,
        engagement=lead.engagement,
        qualification=lead.qualification,
        budget="yes" if lead.budget == "yes" else "no" if lead.budget == "no" else "unknown",
        authority="yes"
        if lead.authority == "yes"
        else "no"
        if lead.authority == "no"
        else "unknown",
        hand_raiser=lead.hand_raiser,
    )


def snapshot(lead: LeadRow) -> LeadSnapshot:
    engagement = lead.engagement
    return LeadSnapshot(
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        title=lead.title,
        country=lead.country,
        industry=lead.industry,
        company_size=lead.company_size,
        language=lead.language,
        source=lead.source,
        account_domain=lead.account_domain,
        fit=lead.fit,
        engagement=engagement,
        qualification=lead.qualification,
        temperature="hot" if engagement >= 40 else "warm" if engagement >= 15 else "cold",
        hand_raiser=lead.hand_raiser,
    )


async def _load_or_create(ctx: HandlerContext, event: InboundEvent) -> tuple[LeadRow, bool]:
    lead = (
        await ctx.session.execute(
            select(LeadRow).where(LeadRow.lead_key == event.lead_key).with_for_update()
        )
    ).scalar_one_or_none()
    if lead is not None:
        return lead, False
    email = event.identity.email
    lead = LeadRow(
        id=str(uuid.uuid4()),
        lead_key=event.lead_key,
        email=email,
        anonymous_id=event.identity.anonymous_id,
        stage=Stage.LEAD.value,
        fit=0,
        engagement=0,
        qualification=0,
        budget="unknown",
        authority="unknown",
        hand_raiser=False,
        rules_version=RULES_VERSION,
        source=event.source,
        account_domain=email.rsplit("@", 1)[1] if email and "@" in email else None,
    )
    ctx.session.add(lead)
    return lead, True


async def _move(
    ctx: HandlerContext,
    lead: LeadRow,
    target: Stage,
    reason: str,
    event: InboundEvent,
    *,
    new: bool,
) -> None:
    current = None if new else Stage(lead.stage)
    try:
        step = transition(current, target, reason)
    except TransitionRefused as refused:
        ctx.session.add(
            StageChangeRow(
                lead_id=lead.id,
                event_id=event.event_id,
                from_stage=lead.stage,
                to_stage=target.value,
                reason=refused.why,
                refused=True,
            )
        )
        return
    lead.stage = step.to_stage.value
    ctx.session.add(
        StageChangeRow(
            lead_id=lead.id,
            event_id=event.event_id,
            from_stage=step.from_stage.value if step.from_stage else None,
            to_stage=step.to_stage.value,
            reason=step.reason,
        )
    )
    changed = StageChanged(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        lead_id=lead.id,
        lead_key=lead.lead_key,
        from_stage=step.from_stage,
        to_stage=step.to_stage,
        reason=step.reason,
        cause_event_id=event.event_id,
        lead=snapshot(lead),
    )
    await enqueue(
        ctx.session, outbox, ctx.topics.stage_changed, lead.lead_key, wrap(changed, SOURCE)
    )


async def handle_form_submitted(ctx: HandlerContext, event: InboundEvent) -> None:
    lead, new = await _load_or_create(ctx, event)
    fields: dict[str, object] = {**event.traits, **event.properties}
    for attribute in (
        "first_name",
        "last_name",
        "company",
        "title",
        "country",
        "industry",
        "language",
    ):
        value = _text(fields, attribute)
        if value is not None:
            setattr(lead, attribute, value)
    lead.company_size = _int(fields, "company_size") or lead.company_size

    form = FormPost(
        form_id=str(event.properties.get("form_id", "")), title=lead.title, fields=fields
    )
    assessment = assess_form(_facts(lead), form)
    totals = apply_changes(_facts(lead), assessment.changes)
    lead.fit, lead.engagement = totals["fit"], totals["engagement"]
    lead.qualification = totals["qualification"]
    lead.budget, lead.authority = assessment.budget, assessment.authority
    lead.hand_raiser = assessment.hand_raiser
    lead.rules_version = RULES_VERSION
    lead.updated_at = datetime.now(UTC)
    await ctx.session.flush()  # the lead row must exist before its changes refer to it
    for change in assessment.changes:
        ctx.session.add(
            ScoreChangeRow(
                lead_id=lead.id,
                event_id=event.event_id,
                component=change.component,
                delta=change.delta,
                reason=change.reason,
                rules_version=RULES_VERSION,
            )
        )
    if new:
        await _move(ctx, lead, Stage.LEAD, f"new lead from {event.source}", event, new=True)
    target = assessment.target
    if target is not None and is_advance(Stage(lead.stage), target):
        # The funnel is walked one allowed step at a time so each move is explained.
        if target == Stage.SQL and Stage(lead.stage) == Stage.LEAD and assessment.hand_raiser:
            await _move(
                ctx, lead, Stage.MQL, "hand-raiser: demo or contact request", event, new=False
            )
        await _move(ctx, lead, target, assessment.target_reason, event, new=False)


async def handle_inbound(ctx: HandlerContext, event: InboundEvent) -> None:
    if not await first_delivery(ctx.session, event.event_id):
        log.info("duplicate event skipped", extra={"event_id": event.event_id})
        return
    if event.name == "form_submitted":
        await handle_form_submitted(ctx, event)
    else:
        log.info(
            "event kind not scored yet", extra={"event_id": event.event_id, "kind": event.name}
        )

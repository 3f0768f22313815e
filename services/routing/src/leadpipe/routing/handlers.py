"""One function per consumed event: load, decide, save, emit — inside the caller's transaction."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.routing.adapters import repository
from leadpipe.routing.adapters.orm import (
    AssignmentRow,
    ErasedLeadRow,
    ProcessedEventRow,
    outbox,
)
from leadpipe.routing.assigning import RoutingConfig, plan, record, release
from leadpipe.routing.domain.reps import LeadProfile
from leadpipe.shared.events import InboundEvent, LeadErased, StageChanged

log = logging.getLogger(__name__)

# Inbound (sales-feedback) events routing acts on; every other inbound event is scoring's.
CONTACTED = "lead_contacted"
# What an erased lead's assignments keep: enough for counts per rep, stage and segment.
KEPT_ON_ERASURE = frozenset(
    {"lead_id", "stage", "country", "industry", "company_size", "grade", "temperature"}
)


async def first_delivery(session: AsyncSession, event_id: str) -> bool:
    inserted = await session.execute(
        pg_insert(ProcessedEventRow)
        .values(event_id=event_id)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProcessedEventRow.event_id)
    )
    return inserted.first() is not None


def profile_of(event: StageChanged) -> LeadProfile:
    lead = event.lead
    return LeadProfile(
        lead_id=event.lead_id,
        stage=event.to_stage.value,
        country=lead.country,
        industry=lead.industry,
        company_size=lead.company_size,
        language=lead.language,
        source=lead.source,
        account_domain=lead.account_domain.lower() if lead.account_domain else None,
        grade=lead.grade,
        temperature=lead.temperature,
        hand_raiser=lead.hand_raiser,
    )


async def handle_stage_changed(
    session: AsyncSession, config: RoutingConfig, event: StageChanged, now: datetime
) -> None:
    """A lead entering a routed stage is assigned (or queued); a lead leaving it frees its rep.
    A lead already routed for the same role keeps its rep."""
    if not await first_delivery(session, event.event_id):
        log.info("duplicate event skipped", extra={"event_id": event.event_id})
        return
    if await session.get(ErasedLeadRow, event.lead_id) is not None:
        return  # read after the erasure that followed it
    role = config.role_for(event.to_stage)
    # Routing locks come before any blocking lock on assignment rows (see lock_reps).
    await repository.lock_reps(session)
    current = await repository.active_assignments(session, event.lead_id)
    if role is not None and any(a.role == role for a in current):
        return
    for assignment in current:
        release(session, assignment, f"lead moved to {event.to_stage.value}", now)
    if role is None:
        return
    lead = profile_of(event)
    decision, reps = await plan(session, lead, role, now)
    await record(
        session,
        config,
        decision,
        reps,
        lead=lead,
        lead_key=event.lead_key,
        role=role,
        now=now,
        cause_event_id=event.event_id,
    )


async def handle_inbound(
    session: AsyncSession, config: RoutingConfig, event: InboundEvent, now: datetime
) -> None:
    """``lead_contacted`` (first touch) stops the running SLA clock of the lead's open
    assignment. Matched by the lead key, which ingest and scoring share."""
    if event.name != CONTACTED or not await first_delivery(session, event.event_id):
        return
    await repository.lock_reps(session)
    running = (
        await session.execute(
            select(AssignmentRow)
            .where(
                AssignmentRow.lead_key == event.lead_key,
                AssignmentRow.status == "open",
            )
            .with_for_update()
        )
    ).scalars()
    for assignment in running:
        if assignment.contacted_at is None:
            assignment.contacted_at = event.occurred_at
        if assignment.sla_state == "running":
            assignment.sla_state = "met"


async def handle_erased(
    session: AsyncSession, config: RoutingConfig, event: LeadErased, now: datetime
) -> None:
    """The person behind a lead was erased: close its open assignments (freeing the reps),
    and keep of its history only what counts per rep need, without the lead key (an email)."""
    if not await first_delivery(session, event.event_id):
        return
    await session.execute(
        pg_insert(ErasedLeadRow)
        .values(lead_id=event.lead_id, erased_at=now)
        .on_conflict_do_nothing(index_elements=["lead_id"])
    )
    await repository.lock_reps(session)
    assignments = (
        (
            await session.execute(
                select(AssignmentRow)
                .where(AssignmentRow.lead_id == event.lead_id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    keys = {assignment.lead_key for assignment in assignments}
    for assignment in assignments:
        if assignment.status == "open":
            release(session, assignment, "the person's data was erased on request", now)
        assignment.lead_key = f"erased:{event.lead_id}"
        assignment.lead = {
            name: value for name, value in assignment.lead.items() if name in KEPT_ON_ERASURE
        }
    if keys:
        await session.execute(delete(outbox).where(outbox.c.key.in_(keys)))
    log.info("lead erased", extra={"lead_id": event.lead_id, "assignments": len(assignments)})

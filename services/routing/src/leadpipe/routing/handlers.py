"""One function per consumed event: load, decide, save, emit — inside the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.routing.adapters.orm import (
    AssignmentRow,
    ProcessedEventRow,
    RepRow,
    RotationCursorRow,
    outbox,
)
from leadpipe.routing.domain.rotation import next_in_rotation
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import LeadRouted, RepRef, Stage, StageChanged
from leadpipe.shared.outbox import enqueue
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)
SOURCE = "/leadpipe/routing"

# Which stage is routed to which pool of reps (role); the first routing rule.
ROUTED_STAGES: dict[Stage, Literal["bdr", "ae"]] = {Stage.SQL: "ae"}


@dataclass(frozen=True)
class HandlerContext:
    session: AsyncSession
    topics: Topics


class StageChangedHandler:
    """Handles ``lead.stage-changed.v1`` events; plugged into the shared transactional loop."""

    def __init__(self, topics: Topics) -> None:
        self._topics = topics

    async def __call__(self, session: AsyncSession, event: StageChanged) -> None:
        await handle_stage_changed(HandlerContext(session, self._topics), event)


async def first_delivery(session: AsyncSession, event_id: str) -> bool:
    inserted = await session.execute(
        pg_insert(ProcessedEventRow)
        .values(event_id=event_id)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProcessedEventRow.event_id)
    )
    return inserted.first() is not None


async def _locked_cursor(session: AsyncSession, pool: str) -> RotationCursorRow:
    await session.execute(
        pg_insert(RotationCursorRow)
        .values(pool=pool)
        .on_conflict_do_nothing(index_elements=["pool"])
    )
    return (
        await session.execute(
            select(RotationCursorRow).where(RotationCursorRow.pool == pool).with_for_update()
        )
    ).scalar_one()


async def handle_stage_changed(ctx: HandlerContext, event: StageChanged) -> None:
    if not await first_delivery(ctx.session, event.event_id):
        log.info("duplicate event skipped", extra={"event_id": event.event_id})
        return
    pool = ROUTED_STAGES.get(event.to_stage)
    if pool is None:
        return
    cursor = await _locked_cursor(ctx.session, pool)
    reps = (
        (
            await ctx.session.execute(
                select(RepRow).where(RepRow.role == pool, RepRow.active.is_(True))
            )
        )
        .scalars()
        .all()
    )
    by_id = {rep.id: rep for rep in reps}
    chosen_id = next_in_rotation(list(by_id), cursor.last_rep_id)
    rule = f"{event.to_stage.value} → {pool} pool"
    trace: dict[str, object] = {
        "rule": rule,
        "strategy": "round-robin",
        "previous": cursor.last_rep_id,
        "candidates": sorted(by_id),
        "excluded": {},
    }
    chosen = by_id.get(chosen_id) if chosen_id else None
    if chosen is not None:
        cursor.last_rep_id = chosen.id
        kind, reason = "assigned", f"round-robin in the {pool} pool: next after the previous pick"
    else:
        kind, reason = "queued", f"no active rep in the {pool} pool; waiting in the fallback queue"
    assignment = AssignmentRow(
        id=str(uuid.uuid4()),
        lead_id=event.lead_id,
        lead_key=event.lead_key,
        rep_id=chosen.id if chosen else None,
        kind=kind,
        stage=event.to_stage.value,
        pool=pool,
        rule=rule,
        reason=reason,
        trace=trace,
        cause_event_id=event.event_id,
    )
    ctx.session.add(assignment)
    routed = LeadRouted(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        kind=kind,
        assignment_id=assignment.id,
        lead_id=event.lead_id,
        lead_key=event.lead_key,
        stage=event.to_stage,
        rep=RepRef(rep_id=chosen.id, name=chosen.name, email=chosen.email, role=pool)
        if chosen
        else None,
        rule=rule,
        reason=reason,
        sla_due_at=None,
        cause_event_id=event.event_id,
    )
    await enqueue(ctx.session, outbox, ctx.topics.routed, event.lead_key, wrap(routed, SOURCE))

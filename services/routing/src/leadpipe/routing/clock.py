"""The routing clock: a background task in every routing instance that finds due SLA timers
and queued leads, and acts on them. Several instances share the work through
``FOR UPDATE SKIP LOCKED`` on partial indexes (running timers by due time, queued leads by
age), so nothing scans the assignments table and no timer fires twice. Timers are rows, so
they survive restarts: one that fell due while routing was down fires on the next tick."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters import repository
from leadpipe.routing.adapters.orm import AssignmentRow
from leadpipe.routing.assigning import RoutingConfig, emit, plan, record, release
from leadpipe.routing.domain.reps import Role

log = logging.getLogger(__name__)


def _role(assignment: AssignmentRow) -> Role:
    return "bdr" if assignment.role == "bdr" else "ae"


async def breach_due_slas(
    session: AsyncSession, config: RoutingConfig, now: datetime, *, limit: int = 100
) -> int:
    """Every running SLA timer due by ``now``: report the breach and re-assign the lead to the
    next eligible rep (not the one who breached); queue it when nobody can take it."""
    anything_due = (
        await session.execute(
            select(AssignmentRow.id)
            .where(AssignmentRow.sla_state == "running", AssignmentRow.sla_due_at <= now)
            .limit(1)
        )
    ).first()
    if anything_due is None:
        return 0
    reps = await repository.lock_reps(session)
    due = (
        await session.execute(
            select(AssignmentRow)
            .where(AssignmentRow.sla_state == "running", AssignmentRow.sla_due_at <= now)
            .order_by(AssignmentRow.sla_due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    breached = 0
    for assignment in due:
        lead = repository.lead_from_json(assignment.lead)
        breaching = reps.get(assignment.rep_id or "")
        assignment.sla_state = "breached"
        release(session, assignment, "SLA breached", now)
        await emit(
            session,
            config,
            assignment,
            kind="sla_breached",
            rep=breaching,
            previous_rep=None,
            now=now,
            reason=f"no first touch by {assignment.sla_due_at:%Y-%m-%d %H:%M %Z}",
        )
        decision, rep_rows = await plan(
            session,
            lead,
            _role(assignment),
            now,
            avoid={assignment.rep_id} if assignment.rep_id else set(),
            avoid_reason="breached the SLA on this lead",
        )
        await record(
            session,
            config,
            decision,
            rep_rows,
            lead=lead,
            lead_key=assignment.lead_key,
            role=_role(assignment),
            now=now,
            cause_event_id=assignment.cause_event_id,
            kind="reassigned",
            previous=assignment,
        )
        breached += 1
    return breached


async def assign_queued(
    session: AsyncSession, config: RoutingConfig, now: datetime, *, limit: int = 50
) -> int:
    """Queued leads, oldest first, go to whoever can take them now; the others stay queued."""
    anything_queued = (
        await session.execute(
            select(AssignmentRow.id).where(AssignmentRow.status == "queued").limit(1)
        )
    ).first()
    if anything_queued is None:
        return 0
    await repository.lock_reps(session)
    queued = (
        await session.execute(
            select(AssignmentRow)
            .where(AssignmentRow.status == "queued")
            .order_by(AssignmentRow.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    assigned = 0
    for waiting in queued:
        lead = repository.lead_from_json(waiting.lead)
        decision, rep_rows = await plan(session, lead, _role(waiting), now)
        if decision.kind != "assigned":
            continue
        release(session, waiting, "assigned from the fallback queue", now)
        await record(
            session,
            config,
            decision,
            rep_rows,
            lead=lead,
            lead_key=waiting.lead_key,
            role=_role(waiting),
            now=now,
            cause_event_id=waiting.cause_event_id,
            kind="assigned",
            previous=waiting,
        )
        assigned += 1
    return assigned


class RoutingClock:
    """Ticks every ``interval_s``; each tick is its own transaction, so a failure loses
    nothing (the rows are still there for the next tick)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: RoutingConfig,
        on_commit: Callable[[], None],
        clock: Callable[[], datetime],
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._on_commit = on_commit
        self._clock = clock
        self._interval_s = interval_s

    async def tick(self) -> tuple[int, int]:
        """(SLA breaches handled, queued leads assigned)."""
        async with self._sessions() as session, session.begin():
            breached = await breach_due_slas(session, self._config, self._clock())
        async with self._sessions() as session, session.begin():
            assigned = await assign_queued(session, self._config, self._clock())
        if breached or assigned:
            self._on_commit()
        return breached, assigned

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routing clock tick failed; retrying on the next tick")
            await asyncio.sleep(self._interval_s)

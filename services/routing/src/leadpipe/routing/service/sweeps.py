"""The routing clock's sweeps: due SLA timers and queued leads, each sweep in one unit of work
(run by :mod:`leadpipe.routing.entrypoints.jobs` in every routing instance). Instances share the
work: each locks only rows no other one holds, so no timer fires twice. Timers are rows, so
they survive restarts: one that fell due while routing was down fires on the next tick."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from leadpipe.routing.domain.assignment import AssignmentRecord, lead_from_json
from leadpipe.routing.domain.decision import Decision, escalate
from leadpipe.routing.domain.reps import LeadProfile, Role
from leadpipe.routing.domain.sla import Breach, after_breach
from leadpipe.routing.service.assigning import emit, plan, record, release
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.handlers import ERASED_REASON
from leadpipe.routing.service.unit_of_work import RoutingUnitOfWork

_BREACHED = "breached the SLA on this lead"


def _role(assignment: AssignmentRecord) -> Role:
    return "bdr" if assignment.role == "bdr" else "ae"


def _record_after(
    uow: RoutingUnitOfWork,
    config: RoutingConfig,
    assignment: AssignmentRecord,
    decision: Decision,
    lead: LeadProfile,
    now: datetime,
    kind: Literal["assigned", "reassigned", "escalated"],
) -> None:
    """Records ``decision`` as the successor of ``assignment``, for the same lead and cause."""
    record(
        uow,
        config,
        decision,
        lead=lead,
        lead_key=assignment.lead_key,
        role=_role(assignment),
        now=now,
        cause_event_id=assignment.cause_event_id,
        kind=kind,
        previous=assignment,
    )


async def _leads_of(
    uow: RoutingUnitOfWork, assignments: list[AssignmentRecord]
) -> list[LeadProfile]:
    """The leads as they were routed, with their accounts' owners and which of them were
    erased read into the unit of work."""
    leads = [lead_from_json(assignment.lead) for assignment in assignments]
    await uow.load_account_owners({lead.account_domain for lead in leads if lead.account_domain})
    await uow.load_erased({assignment.lead_id for assignment in assignments})
    return leads


def _settled(
    uow: RoutingUnitOfWork, config: RoutingConfig, assignment: AssignmentRecord, now: datetime
) -> bool:
    """Whether the lead must not be routed any more, settling its assignment without a
    routed event: an erased lead's is closed; one of a stage no longer routed to its role is
    closed while queued, and keeps its rep but stops its SLA clock while open. The consumer
    closes assignments when it reads an erasure or a stage change; this covers rows left
    behind (an erasure read before queued assignments were closed, a changed setting)."""
    if assignment.lead_id in uow.erased:
        release(uow, assignment, ERASED_REASON, now)
        return True
    if config.role_for(assignment.stage) == _role(assignment):
        return False
    if assignment.status == "queued":
        release(uow, assignment, f"{assignment.stage} leads are no longer routed", now)
    elif assignment.sla_state == "running":
        assignment.sla_state = "stopped"
        uow.changed(assignment)
    return True


def _breaches(assignment: AssignmentRecord) -> list[Breach]:
    """The lead's SLA breaches before this assignment, from its trace."""
    stored = assignment.trace.get("sla_breaches", [])
    return [Breach.from_json(item) for item in stored if isinstance(item, dict)]


async def breach_due_slas(
    uow: RoutingUnitOfWork, config: RoutingConfig, now: datetime, *, limit: int = 100
) -> int:
    """Every running SLA timer due by ``now``: report the breach and re-assign the lead to the
    next eligible rep (not the one who breached; queued when nobody can take it) — or, once
    the pool's re-assignments are used up, escalate it."""
    if not await uow.anything_due(now):
        return 0
    await uow.lock()
    due = await uow.lock_due_slas(now, limit)
    breached = 0
    for assignment, lead in zip(due, await _leads_of(uow, due), strict=True):
        if _settled(uow, config, assignment, now):
            continue
        breached += 1
        breaching = uow.reps.get(assignment.rep_id or "")
        assignment.sla_state = "breached"
        release(uow, assignment, "SLA breached", now)
        emit(
            uow,
            config,
            assignment,
            kind="sla_breached",
            rep=breaching,
            previous_rep=None,
            now=now,
            reason=f"no first touch by {assignment.sla_due_at:%Y-%m-%d %H:%M %Z}",
        )
        assert assignment.sla_due_at is not None  # the timer was running
        breaches = [
            *_breaches(assignment),
            Breach(
                assignment.rep_id or "",
                breaching.name if breaching else str(assignment.rep_id),
                assignment.sla_due_at,
            ),
        ]
        pool = uow.pools.get(assignment.pool)
        allowed = config.max_reassignments
        if pool is not None and pool.max_reassignments is not None:
            allowed = pool.max_reassignments
        step = after_breach(breaches, allowed)
        if step.escalate:
            decision = escalate(
                step,
                breaches,
                pool_name=assignment.pool,
                rule=assignment.rule,
                target_id=pool.escalate_to if pool is not None else None,
                reps=uow.reps,
            )
        else:
            planned = plan(
                uow,
                lead,
                _role(assignment),
                now,
                avoid={assignment.rep_id} if assignment.rep_id else set(),
                avoid_reason=_BREACHED,
            )
            decision = replace(
                planned,
                trace={
                    **planned.trace,
                    "sla_breaches": [breach.as_json() for breach in breaches],
                    "after_breach": step.reason,
                },
            )
        _record_after(
            uow,
            config,
            assignment,
            decision,
            lead,
            now,
            "escalated" if step.escalate else "reassigned",
        )
    await uow.write()
    return breached


async def assign_queued(
    uow: RoutingUnitOfWork, config: RoutingConfig, now: datetime, *, limit: int = 50
) -> int:
    """Queued leads, oldest first, go to whoever can take them now; the others stay queued."""
    if not await uow.anything_queued():
        return 0
    await uow.lock()
    queued = await uow.lock_queued(limit)
    assigned = 0
    for waiting, lead in zip(queued, await _leads_of(uow, queued), strict=True):
        if _settled(uow, config, waiting, now):
            continue
        # Reps who let the lead's SLA pass are not offered it again from the queue.
        breached = {breach.rep_id for breach in _breaches(waiting)}
        decision = plan(
            uow,
            lead,
            _role(waiting),
            now,
            avoid=breached,
            avoid_reason=_BREACHED,
        )
        if decision.kind != "assigned":
            continue
        release(uow, waiting, "assigned from the fallback queue", now)
        _record_after(uow, config, waiting, decision, lead, now, "assigned")
        assigned += 1
    await uow.write()
    return assigned

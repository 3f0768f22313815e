"""Routing a lead within a unit of work: decide on its state, record the assignment (starting
its SLA clock), move the pool's rotation on and emit the routed event. Nothing here waits on
the database: the state was read under the routing locks before, and is written once
after (:mod:`leadpipe.routing.service.unit_of_work`).

Used by the stage-change handler (new leads), the SLA clock (re-assignment after a breach) and
the fallback queue (queued leads once someone can take them)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Literal

from leadpipe.routing.domain.assignment import AssignmentRecord, lead_as_json
from leadpipe.routing.domain.decision import Decision, RoutingSituation, decide
from leadpipe.routing.domain.reps import LeadProfile, Rep, Role
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.unit_of_work import RoutingUnitOfWork
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import LeadRouted, RepRef, Stage

SOURCE = "/leadpipe/routing"
# What a lead's next assignment keeps of the previous one's trace: its SLA breaches (so that
# re-assignments are counted across the chain) and whether it was escalated (no SLA clock).
CARRIED = ("sla_breaches", "escalation")


def rep_ref(rep: Rep) -> RepRef:
    return RepRef(rep_id=rep.id, name=rep.name, email=rep.email, role=rep.role)


def plan(
    uow: RoutingUnitOfWork,
    lead: LeadProfile,
    role: Role,
    now: datetime,
    *,
    avoid: Collection[str] = (),
    avoid_reason: str = "already had this lead",
) -> Decision:
    """Who gets the lead, on the batch's state as it stands; nothing is recorded yet."""
    return decide(
        RoutingSituation(
            lead=lead,
            role=role,
            now=now,
            rules=uow.rules,
            pools=uow.pools,
            reps=uow.reps,
            open_leads=uow.open_leads,
            rotations=uow.rotations,
            account_owner=uow.account_owners.get(lead.account_domain or ""),
            avoid=avoid,
            avoid_reason=avoid_reason,
        )
    )


def record(
    uow: RoutingUnitOfWork,
    config: RoutingConfig,
    decision: Decision,
    *,
    lead: LeadProfile,
    lead_key: str,
    role: Role,
    now: datetime,
    cause_event_id: str,
    kind: Literal["assigned", "reassigned", "escalated"] = "assigned",
    previous: AssignmentRecord | None = None,
) -> AssignmentRecord:
    """Store the decision as an assignment (starting its SLA clock unless the lead was
    escalated), move the pool's rotation on and emit the routed event. The lead's breaches
    and escalation travel on from ``previous`` in the trace."""
    rep = uow.reps.get(decision.rep_id) if decision.rep_id else None
    trace = dict(decision.trace)
    if previous is not None:
        for key in CARRIED:
            if key in previous.trace:
                trace.setdefault(key, previous.trace[key])
    due: datetime | None = None
    if rep is not None and "escalation" not in trace:
        due = config.sla.due_at(lead.temperature, lead.hand_raiser, now, rep.calendar)
    if decision.rotation is not None:
        uow.rotated(decision.pool, decision.rotation)
    assignment = AssignmentRecord(
        id=str(uuid.uuid4()),
        lead_id=lead.lead_id,
        lead_key=lead_key,
        rep_id=rep.id if rep else None,
        kind=kind if rep or kind == "escalated" else "queued",
        status="open" if rep else "queued",
        stage=lead.stage,
        role=role,
        pool=decision.pool,
        rule=decision.rule,
        reason=decision.reason,
        trace=trace,
        lead=lead_as_json(lead),
        cause_event_id=cause_event_id,
        previous_assignment_id=previous.id if previous else None,
        sla_due_at=due,
        sla_state="running" if due else None,
        contacted_at=None,
        closed_at=None,
        closed_reason=None,
        created_at=now,
    )
    uow.added(assignment)
    previous_rep = uow.reps.get(previous.rep_id) if previous and previous.rep_id else None
    emit(
        uow,
        config,
        assignment,
        kind=assignment.kind,  # type: ignore[arg-type]
        rep=rep,
        previous_rep=previous_rep,
        now=now,
    )
    return assignment


def emit(
    uow: RoutingUnitOfWork,
    config: RoutingConfig,
    assignment: AssignmentRecord,
    *,
    kind: Literal["assigned", "reassigned", "queued", "sla_breached", "escalated"],
    rep: Rep | None,
    previous_rep: Rep | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    """The routed event, into the unit of work's outbox."""
    candidates = assignment.trace.get("candidates", [])
    routed = LeadRouted(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        kind=kind,
        assignment_id=assignment.id,
        lead_id=assignment.lead_id,
        lead_key=assignment.lead_key,
        stage=Stage(assignment.stage),
        rep=rep_ref(rep) if rep is not None else None,
        rule=assignment.rule,
        reason=reason or assignment.reason,
        sla_due_at=assignment.sla_due_at,
        cause_event_id=assignment.cause_event_id,
        pool=assignment.pool,
        strategy=str(assignment.trace.get("strategy", "")) or None,
        candidates_considered=len(candidates),
        excluded={
            str(c["rep_id"]): str(c["excluded_because"])
            for c in candidates
            if isinstance(c, dict) and c.get("excluded_because")
        },
        previous_rep=rep_ref(previous_rep) if previous_rep is not None else None,
    )
    uow.emit(config.topics.routed, assignment.lead_key, wrap(routed, SOURCE))


def release(
    uow: RoutingUnitOfWork, assignment: AssignmentRecord, reason: str, now: datetime
) -> None:
    """Close an assignment and give its rep the capacity back."""
    if assignment.status == "open" and assignment.rep_id is not None:
        uow.released(assignment.rep_id)
    assignment.status = "closed"
    assignment.closed_at = now
    assignment.closed_reason = reason
    if assignment.sla_state == "running":
        assignment.sla_state = "stopped"
    uow.changed(assignment)

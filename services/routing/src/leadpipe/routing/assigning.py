"""Routing a lead inside the caller's transaction: lock, load, decide, record, emit.

Used by the stage-change handler (new leads), the SLA clock (re-assignment after a breach) and
the fallback queue (queued leads once someone can take them)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.routing.adapters import repository
from leadpipe.routing.adapters.orm import AssignmentRow, RepRow, RotationCursorRow, outbox
from leadpipe.routing.domain.decision import Decision, RoutingSituation, decide
from leadpipe.routing.domain.reps import LeadProfile, Role
from leadpipe.routing.domain.sla import SlaPolicy
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import LeadRouted, RepRef, Stage
from leadpipe.shared.outbox import enqueue
from leadpipe.shared.topics import Topics

SOURCE = "/leadpipe/routing"


@dataclass(frozen=True)
class RoutingConfig:
    topics: Topics
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    route_mql_to_bdr: bool = False

    def role_for(self, stage: str) -> Role | None:
        """``sql`` goes to AEs; ``mql`` to BDRs only when enabled."""
        if stage == Stage.SQL:
            return "ae"
        if stage == Stage.MQL and self.route_mql_to_bdr:
            return "bdr"
        return None


def rep_ref(row: RepRow) -> RepRef:
    return RepRef(
        rep_id=row.id, name=row.name, email=row.email, role="bdr" if row.role == "bdr" else "ae"
    )


async def plan(
    session: AsyncSession,
    lead: LeadProfile,
    role: Role,
    now: datetime,
    *,
    avoid: Collection[str] = (),
    avoid_reason: str = "already had this lead",
) -> tuple[Decision, dict[str, RepRow]]:
    """Decide under the routing locks (reps, then rotations); nothing is written yet."""
    rep_rows = await repository.lock_reps(session)
    rotations = await repository.locked_rotations(session)
    rules, pools = await repository.load_rules(session)
    situation = RoutingSituation(
        lead=lead,
        role=role,
        now=now,
        rules=rules,
        pools=pools,
        reps={rep_id: repository.rep_of(row) for rep_id, row in rep_rows.items()},
        open_leads=await repository.open_lead_counts(session),
        rotations={name: repository.rotation_of(row) for name, row in rotations.items()},
        account_owner=await repository.account_owner(session, lead.account_domain),
        avoid=avoid,
        avoid_reason=avoid_reason,
    )
    return decide(situation), rep_rows


async def record(
    session: AsyncSession,
    config: RoutingConfig,
    decision: Decision,
    rep_rows: dict[str, RepRow],
    *,
    lead: LeadProfile,
    lead_key: str,
    role: Role,
    now: datetime,
    cause_event_id: str,
    kind: Literal["assigned", "reassigned"] = "assigned",
    previous: AssignmentRow | None = None,
) -> AssignmentRow:
    """Store the decision as an assignment (starting its SLA clock), move the pool's rotation
    on and emit the routed event through the outbox."""
    rep = rep_rows.get(decision.rep_id) if decision.rep_id else None
    due: datetime | None = None
    if rep is not None:
        due = config.sla.due_at(
            lead.temperature, lead.hand_raiser, now, repository.calendar_of(rep)
        )
    if decision.rotation is not None:
        await session.execute(
            pg_insert(RotationCursorRow)
            .values(
                pool=decision.pool,
                last_rep_id=decision.rotation.last_rep_id,
                credits=decision.rotation.credits,
            )
            .on_conflict_do_update(
                index_elements=["pool"],
                set_={
                    "last_rep_id": decision.rotation.last_rep_id,
                    "credits": decision.rotation.credits,
                },
            )
        )
    assignment = AssignmentRow(
        id=str(uuid.uuid4()),
        lead_id=lead.lead_id,
        lead_key=lead_key,
        rep_id=rep.id if rep else None,
        kind=kind if rep else "queued",
        status="open" if rep else "queued",
        stage=lead.stage,
        role=role,
        pool=decision.pool,
        rule=decision.rule,
        reason=decision.reason,
        trace=decision.trace,
        lead=repository.lead_as_json(lead),
        cause_event_id=cause_event_id,
        previous_assignment_id=previous.id if previous else None,
        sla_due_at=due,
        sla_state="running" if due else None,
        created_at=now,
    )
    session.add(assignment)
    if rep is not None:
        repository.opened(session, rep.id)
    previous_rep = rep_rows.get(previous.rep_id) if previous and previous.rep_id else None
    await emit(
        session,
        config,
        assignment,
        kind=assignment.kind,  # type: ignore[arg-type]
        rep=rep,
        previous_rep=previous_rep,
        now=now,
    )
    return assignment


async def emit(
    session: AsyncSession,
    config: RoutingConfig,
    assignment: AssignmentRow,
    *,
    kind: Literal["assigned", "reassigned", "queued", "sla_breached"],
    rep: RepRow | None,
    previous_rep: RepRow | None,
    now: datetime,
    reason: str | None = None,
) -> None:
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
    await enqueue(session, outbox, config.topics.routed, assignment.lead_key, wrap(routed, SOURCE))


def release(session: AsyncSession, assignment: AssignmentRow, reason: str, now: datetime) -> None:
    """Close an assignment and give its rep the capacity back."""
    if assignment.status == "open":
        repository.released(session, assignment)
    close(assignment, reason, now)


def close(assignment: AssignmentRow, reason: str, now: datetime) -> None:
    assignment.status = "closed"
    assignment.closed_at = now
    assignment.closed_reason = reason
    if assignment.sla_state == "running":
        assignment.sla_state = "stopped"

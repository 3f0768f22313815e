"""One function per consumed event: decide on the unit of work's state and record what
changes. The state was read before (under the routing locks) and is written after, by
:func:`apply_batch`, in the caller's transaction; no handler waits on the database."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from leadpipe.routing.domain.reps import LeadProfile
from leadpipe.routing.service.assigning import plan, record, release
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.unit_of_work import RoutingUnitOfWork
from leadpipe.shared.events import (
    InboundEvent,
    LeadErased,
    LeadSnapshot,
    SealedInboundEvent,
    StageChanged,
)
from leadpipe.shared.lead_attributes import Use, attribute_names
from leadpipe.shared.privacy import record_key

log = logging.getLogger(__name__)

# Inbound (sales-feedback) events routing acts on; every other inbound event is scoring's.
CONTACTED = "lead_contacted"
ERASED_REASON = "the person's data was erased on request"
Contacted = InboundEvent | SealedInboundEvent
# What an erased lead's assignments keep: enough for counts per rep, stage and segment.
KEPT_ON_ERASURE = frozenset(
    {"lead_id", "stage", *attribute_names(LeadSnapshot, Use.KEPT_ON_ERASURE)}
)
ROUTED = attribute_names(LeadSnapshot, Use.ROUTED)


def profile_of(event: StageChanged) -> LeadProfile:
    attributes = {name: getattr(event.lead, name) for name in ROUTED}
    if attributes["account_domain"]:
        attributes["account_domain"] = attributes["account_domain"].lower()
    return LeadProfile(lead_id=event.lead_id, stage=event.to_stage.value, **attributes)


def handle_stage_changed(
    uow: RoutingUnitOfWork, config: RoutingConfig, event: StageChanged, now: datetime
) -> None:
    """A lead entering a routed stage is assigned (or queued); a lead leaving it frees its rep.
    A lead already routed for the same role keeps its rep."""
    if event.lead_id in uow.erased:
        return  # read after the erasure that followed it
    role = config.role_for(event.to_stage)
    current = uow.active(event.lead_id)
    if role is not None and any(a.role == role for a in current):
        return
    for assignment in current:
        release(uow, assignment, f"lead moved to {event.to_stage.value}", now)
    if role is None:
        return
    lead = profile_of(event)
    record(
        uow,
        config,
        plan(uow, lead, role, now),
        lead=lead,
        lead_key=event.lead_key,
        role=role,
        now=now,
        cause_event_id=event.event_id,
    )


def contacted_key(event: Contacted) -> str:
    """The pseudonymous lead key a first touch is for, as stage changes carry it: a sealed
    event's subject is that key already, so routing needs no data key to match it."""
    return event.subject if isinstance(event, SealedInboundEvent) else record_key(event.lead_key)


def handle_contacted(
    uow: RoutingUnitOfWork, config: RoutingConfig, event: Contacted, now: datetime
) -> None:
    """``lead_contacted`` (first touch) stops the running SLA clock of the lead's open
    assignment. Matched by the lead key, which ingest and scoring share."""
    for assignment in uow.open_for_key(contacted_key(event)):
        if assignment.contacted_at is None:
            assignment.contacted_at = event.occurred_at
        if assignment.sla_state == "running":
            assignment.sla_state = "met"
        uow.changed(assignment)


def handle_erased(
    uow: RoutingUnitOfWork, config: RoutingConfig, event: LeadErased, now: datetime
) -> None:
    """The person behind a lead was erased: close its open and queued assignments (freeing
    the reps; a queued one would otherwise be assigned by the fallback queue later), and keep
    of its history only what counts per rep need, without the lead key (an email)."""
    assignments = uow.every(event.lead_id)
    keys = {assignment.lead_key for assignment in assignments}
    for assignment in assignments:
        if assignment.status != "closed":
            release(uow, assignment, ERASED_REASON, now)
        assignment.lead_key = f"erased:{event.lead_id}"
        assignment.lead = {
            name: value for name, value in assignment.lead.items() if name in KEPT_ON_ERASURE
        }
        uow.changed(assignment)
    uow.erase(event.lead_id, now, keys)
    log.info("lead erased", extra={"lead_id": event.lead_id, "assignments": len(assignments)})


Handler = Callable[[RoutingUnitOfWork, RoutingConfig, Any, datetime], None]
# The handler of each event type routing consumes (what ``decode`` keeps).
HANDLERS: Mapping[type, Handler] = {
    StageChanged: handle_stage_changed,
    LeadErased: handle_erased,
    InboundEvent: handle_contacted,
    SealedInboundEvent: handle_contacted,
}

RoutingEvent = StageChanged | Contacted | LeadErased


async def apply_batch(
    uow: RoutingUnitOfWork,
    events: Sequence[RoutingEvent],
    config: RoutingConfig,
    clock: Callable[[], datetime],
) -> bool:
    """Record the events as processed, lock and read the routing state once, decide every
    event in order in memory and write the result; returns whether any event was new. Events
    processed before, and a second copy within the batch, change nothing. Never commits."""
    first_time = await uow.fresh(event.event_id for event in events)
    if not first_time:
        _skipped(events)
        return False
    await uow.lock()
    changed = [e for e in events if isinstance(e, StageChanged)]
    await uow.load_leads(
        lead_ids={e.lead_id for e in changed},
        contacted_keys={
            contacted_key(e) for e in events if isinstance(e, InboundEvent | SealedInboundEvent)
        },
        erased_ids={e.lead_id for e in events if isinstance(e, LeadErased)},
        account_domains={e.lead.account_domain.lower() for e in changed if e.lead.account_domain},
    )
    for event in events:
        if event.event_id not in first_time:
            _skipped([event])
            continue
        first_time.discard(event.event_id)  # a second copy in the batch is a duplicate
        HANDLERS[type(event)](uow, config, event, clock())
    await uow.write()
    return True


def _skipped(events: Sequence[RoutingEvent]) -> None:
    for event in events:
        if isinstance(event, StageChanged):
            log.info("duplicate event skipped", extra={"event_id": event.event_id})

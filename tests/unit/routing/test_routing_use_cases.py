"""Routing's use cases through the in-memory unit of work: what a rep, a sales tool or the
fallback queue would notice, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from leadpipe.routing.domain.reps import Rep
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.handlers import ERASED_REASON, RoutingEvent, apply_batch
from leadpipe.routing.service.sweeps import assign_queued, breach_due_slas
from leadpipe.shared.events import (
    LeadErased,
    LeadRouted,
    LeadSnapshot,
    Stage,
    StageChanged,
)
from leadpipe.shared.privacy import record_key
from leadpipe.shared.topics import Topics
from tests.events import contacted
from tests.fakes.routing_unit_of_work import InMemoryRoutingUnitOfWork

CONFIG = RoutingConfig(topics=Topics.with_prefix(), max_reassignments=1)
NOW = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
ANNA = Rep(id="rep-anna", name="Anna", email="anna@sales.example", role="ae")
JONAS = Rep(id="rep-jonas", name="Jonas", email="jonas@sales.example", role="ae")


def became_sql(email: str) -> StageChanged:
    return StageChanged(
        event_id=str(uuid.uuid4()),
        occurred_at=NOW,
        lead_id=f"lead-{email}",
        lead_key=record_key(email),
        from_stage=Stage.MQL,
        to_stage=Stage.SQL,
        reason="test",
        cause_event_id=str(uuid.uuid4()),
        lead=LeadSnapshot(account_domain=email.split("@")[1], temperature="hot"),
    )


def left_sql(event: StageChanged) -> StageChanged:
    return event.model_copy(
        update={"event_id": str(uuid.uuid4()), "from_stage": Stage.SQL, "to_stage": Stage.CUSTOMER}
    )


def erased(lead_id: str) -> LeadErased:
    return LeadErased(
        event_id=str(uuid.uuid4()),
        occurred_at=NOW,
        lead_id=lead_id,
        erasure_id=str(uuid.uuid4()),
    )


def with_reps(*reps: Rep) -> InMemoryRoutingUnitOfWork:
    return InMemoryRoutingUnitOfWork(reps={rep.id: rep for rep in reps})


async def apply(uow: InMemoryRoutingUnitOfWork, *events: RoutingEvent, at: datetime = NOW) -> bool:
    return await apply_batch(uow, events, CONFIG, lambda: at)


def routed(uow: InMemoryRoutingUnitOfWork) -> list[LeadRouted]:
    return [LeadRouted.model_validate_json(emitted.event.data) for emitted in uow.outbox]


async def test_sql_leads_go_round_robin_across_the_aes_with_a_trace_and_an_event() -> None:
    uow = with_reps(ANNA, JONAS)
    await apply(uow, became_sql("max@acme.example"), became_sql("erika@muster.example"))
    assert sorted(a.rep_id or "" for a in uow.assignments) == [ANNA.id, JONAS.id]
    assert all(a.status == "open" and a.sla_state == "running" for a in uow.assignments)
    assert all(a.trace["strategy"] == "round-robin" for a in uow.assignments)
    events = routed(uow)
    assert [e.kind for e in events] == ["assigned", "assigned"]
    assert {e.rep.rep_id for e in events if e.rep} == {ANNA.id, JONAS.id}
    assert {emitted.topic for emitted in uow.outbox} == {CONFIG.topics.routed}
    assert uow.writes == 1


async def test_the_account_owner_gets_the_lead_first() -> None:
    uow = with_reps(ANNA, JONAS)
    uow.account_owners["acme.example"] = JONAS.id
    await apply(uow, became_sql("max@acme.example"), became_sql("lena@acme.example"))
    assert [a.rep_id for a in uow.assignments] == [JONAS.id, JONAS.id]
    assert [a.rule for a in uow.assignments] == ["account owner", "account owner"]


async def test_a_lead_nobody_can_take_is_queued() -> None:
    uow = with_reps(
        Rep(id="rep-off", name="Off", email="off@sales.example", role="ae", active=False)
    )
    await apply(uow, became_sql("max@acme.example"))
    [queued] = uow.assignments
    assert (queued.status, queued.rep_id, queued.sla_state) == ("queued", None, None)
    assert [(e.kind, e.rep) for e in routed(uow)] == [("queued", None)]


async def test_a_duplicate_event_changes_nothing() -> None:
    uow = with_reps(ANNA, JONAS)
    event = became_sql("max@acme.example")
    assert await apply(uow, event)
    await apply(uow, left_sql(event))  # its rep is free again
    assert not await apply(uow, event)  # redelivered late: not routed again
    # And a second copy within one batch, after the lead left sql again.
    lena = became_sql("lena@muster.example")
    await apply(uow, lena, left_sql(lena), lena, event)
    assert [(a.lead_id, a.status) for a in uow.assignments] == [
        ("lead-max@acme.example", "closed"),
        ("lead-lena@muster.example", "closed"),
    ]
    assert [e.lead_id for e in routed(uow)] == [
        "lead-max@acme.example",
        "lead-lena@muster.example",
    ]


async def test_lead_contacted_stops_the_sla_clock() -> None:
    uow = with_reps(ANNA, JONAS)
    await apply(uow, became_sql("max@acme.example"))
    touched = NOW + timedelta(minutes=2)
    await apply(uow, contacted("max@acme.example", touched), at=touched)
    [assignment] = uow.assignments
    assert (assignment.sla_state, assignment.contacted_at) == ("met", touched)
    assert await breach_due_slas(uow, CONFIG, NOW + timedelta(hours=1)) == 0
    assert [e.kind for e in routed(uow)] == ["assigned"]


async def test_an_sla_breach_reassigns_then_escalates_never_back_and_forth() -> None:
    uow = with_reps(ANNA, JONAS)
    await apply(uow, became_sql("max@acme.example"))
    first = uow.assignments[0].rep_id
    later = NOW
    for _ in range(3):
        later += timedelta(hours=1)
        await breach_due_slas(uow, CONFIG, later)
    events = routed(uow)
    assert [e.kind for e in events] == [
        "assigned",
        "sla_breached",
        "reassigned",
        "sla_breached",
        "escalated",
    ]
    reassigned = events[2].rep
    assert reassigned is not None and reassigned.rep_id != first
    assert uow.outbox[-1].event.type == "io.leadpipe.lead.escalated.v1"
    [escalated] = uow.active("lead-max@acme.example")
    assert escalated.sla_state is None  # no clock runs after an escalation
    # Both reps breached: the fallback queue offers it to neither of them again.
    assert await assign_queued(uow, CONFIG, later + timedelta(hours=1)) == 0


async def test_an_erased_lead_in_the_fallback_queue_is_closed_not_assigned() -> None:
    uow = with_reps()
    await apply(uow, became_sql("max@acme.example"))
    uow.erased.add("lead-max@acme.example")  # read by the consumer before the queue was swept
    uow.reps[ANNA.id] = ANNA
    assert await assign_queued(uow, CONFIG, NOW + timedelta(minutes=1)) == 0
    [closed] = uow.assignments
    assert (closed.status, closed.closed_reason, closed.rep_id) == ("closed", ERASED_REASON, None)
    assert [e.kind for e in routed(uow)] == ["queued"]


async def test_an_erasure_closes_the_leads_queued_assignment_and_drops_its_events() -> None:
    uow = with_reps()
    await apply(uow, became_sql("max@acme.example"))
    await apply(uow, erased("lead-max@acme.example"))
    uow.reps[ANNA.id] = ANNA
    assert await assign_queued(uow, CONFIG, NOW + timedelta(minutes=1)) == 0
    assert [a.status for a in uow.assignments] == ["closed"]
    assert uow.outbox == []


async def test_the_fallback_queue_assigns_a_queued_lead_once_a_rep_is_available() -> None:
    uow = with_reps()
    await apply(uow, became_sql("max@acme.example"))
    assert await assign_queued(uow, CONFIG, NOW) == 0
    uow.reps[ANNA.id] = ANNA
    assert await assign_queued(uow, CONFIG, NOW + timedelta(minutes=1)) == 1
    queued, assigned = uow.assignments
    assert (queued.status, assigned.status, assigned.rep_id) == ("closed", "open", ANNA.id)
    assert [e.kind for e in routed(uow)] == ["queued", "assigned"]

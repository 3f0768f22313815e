"""The routing clock's sweeps on real PostgreSQL: the fallback queue and SLA timers leave
erased leads alone, and SLA re-assignment escalates instead of going round forever."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import outbox
from leadpipe.routing.entrypoints.jobs import RoutingClock
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.shared.events import LeadErased
from leadpipe.shared.settings import Settings
from tests.integration.routing_helpers import (
    Clock,
    add_reps,
    api_client,
    assignments_of,
    became_sql,
    clean_routing,
    emitted,
    noop,
    route,
)

pytestmark = pytest.mark.integration

ANNA = {"name": "Anna", "email": "anna@sales.example", "role": "ae"}
JONAS = {"name": "Jonas", "email": "jonas@sales.example", "role": "ae"}
MARTA = {"name": "Marta", "email": "marta@sales.example", "role": "ae"}
START = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    await clean_routing(sessions)
    async for found in api_client(sessions):
        yield found


@pytest.fixture
def config(settings: Settings) -> RoutingConfig:
    return RoutingConfig(topics=settings.topics)


async def _outbox_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@kunde.example"


async def test_an_erased_lead_waiting_in_the_fallback_queue_is_never_assigned(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    ids = await add_reps(client, [{**ANNA, "capacity": 0}])
    entered = became_sql(_unique("queued"))
    await route(sessions, config, Clock(START), entered)
    [queued] = await assignments_of(sessions, entered.lead_key)
    assert queued.status == "queued"

    erasure = LeadErased(
        event_id=str(uuid.uuid4()), occurred_at=START, lead_id=entered.lead_id, erasure_id="e-q"
    )
    await route(sessions, config, Clock(START + timedelta(seconds=1)), erasure)
    response = await client.put(f"/v1/reps/{ids[ANNA['email']]}", json={**ANNA, "capacity": 5})
    assert response.status_code == 200
    before = await _outbox_rows(sessions)

    clock = RoutingClock(sessions, config, noop, Clock(START + timedelta(seconds=2)))
    assert await clock.tick() == (0, 0)

    [closed] = (await client.get(f"/v1/leads/{entered.lead_id}/assignments")).json()
    assert (closed["status"], closed["rep"]) == ("closed", None)
    assert closed["closed_reason"] == "the person's data was erased on request"
    assert await _outbox_rows(sessions) == before  # no lead.assigned.v1
    assert await emitted(sessions, f"erased:{entered.lead_id}") == []
    assert (await client.get(f"/v1/reps/{ids[ANNA['email']]}")).json()["open_leads"] == 0


async def test_the_sweeps_close_what_an_earlier_erasure_left_queued(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    """Queued rows of leads erased before erasure closed them (an older release) stay
    queued in the table; the fallback queue closes them instead of assigning them."""
    await add_reps(client, [ANNA])
    entered = became_sql(_unique("left-behind"))
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE routing.reps SET capacity = 0"),
        )
    await route(sessions, config, Clock(START), entered)
    async with sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO routing.erased_leads (lead_id) VALUES (:id)"),
            {"id": entered.lead_id},
        )
        await session.execute(text("UPDATE routing.reps SET capacity = NULL"))
    before = await _outbox_rows(sessions)

    clock = RoutingClock(sessions, config, noop, Clock(START + timedelta(seconds=1)))
    assert await clock.tick() == (0, 0)
    [closed] = await assignments_of(sessions, entered.lead_key)
    assert (closed.status, closed.closed_reason) == (
        "closed",
        "the person's data was erased on request",
    )
    assert await _outbox_rows(sessions) == before


async def test_queued_leads_of_a_stage_no_longer_routed_are_closed_not_assigned(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await add_reps(client, [{**ANNA, "role": "bdr", "capacity": 0}])
    with_bdrs = RoutingConfig(topics=settings.topics, route_mql_to_bdr=True)
    entered = became_sql(_unique("mql"), to_stage="mql")
    await route(sessions, with_bdrs, Clock(START), entered)
    [queued] = await assignments_of(sessions, entered.lead_key)
    assert (queued.status, queued.role) == ("queued", "bdr")
    async with sessions() as session, session.begin():
        await session.execute(text("UPDATE routing.reps SET capacity = NULL"))

    without_bdrs = RoutingConfig(topics=settings.topics)
    clock = RoutingClock(sessions, without_bdrs, noop, Clock(START + timedelta(seconds=1)))
    assert await clock.tick() == (0, 0)
    [closed] = await assignments_of(sessions, entered.lead_key)
    assert (closed.status, closed.closed_reason) == ("closed", "mql leads are no longer routed")
    assert [e.kind for e in await emitted(sessions, entered.lead_key)] == ["queued"]


async def _breach_until_quiet(
    sessions: async_sessionmaker[AsyncSession], config: RoutingConfig, start: datetime
) -> list[tuple[int, int]]:
    """Ticks every six minutes for two hours of an untouched hot lead."""
    return [
        await RoutingClock(sessions, config, noop, Clock(start + timedelta(minutes=6 * i))).tick()
        for i in range(1, 21)
    ]


async def test_an_untouched_lead_is_escalated_to_the_pools_manager_after_its_reassignments(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    ids = await add_reps(client, [ANNA, JONAS, {**MARTA, "capacity": 0}])
    pool = {
        "role": "ae",
        "members": [ANNA["email"], JONAS["email"]],
        "max_reassignments": 2,
        "escalate_to": MARTA["email"],
    }
    unknown = await client.put("/v1/pools/ae", json={**pool, "escalate_to": "nobody@x.example"})
    assert unknown.status_code == 422 and "escalate_to" in unknown.text
    assert (await client.put("/v1/pools/ae", json=pool)).status_code == 200
    [listed] = (await client.get("/v1/pools")).json()
    assert (listed["max_reassignments"], listed["escalate_to"]) == (2, MARTA["email"])

    entered = became_sql(_unique("untouched"), temperature="hot")
    await route(sessions, config, Clock(START), entered)
    ticks = await _breach_until_quiet(sessions, config, START)
    assert sum(breached for breached, _ in ticks) == 3  # then it stops for good

    chain = await assignments_of(sessions, entered.lead_key)
    names = {ids[rep["email"]]: rep["name"] for rep in (ANNA, JONAS, MARTA)}
    first = names[str(chain[0].rep_id)]
    other = "Jonas" if first == "Anna" else "Anna"
    assert [(a.kind, names[str(a.rep_id)]) for a in chain] == [
        ("assigned", first),
        ("reassigned", other),
        ("reassigned", first),
        ("escalated", "Marta"),
    ]
    escalated = chain[-1]
    assert (escalated.status, escalated.sla_state, escalated.sla_due_at) == ("open", None, None)
    assert escalated.trace["escalation"]["outcome"] == "assigned to the escalation target Marta"
    assert [b["name"] for b in escalated.trace["sla_breaches"]] == [first, other, first]
    assert chain[2].trace["after_breach"] == "SLA breach 2: re-assignment 2 of 2"
    routed = await emitted(sessions, entered.lead_key)
    assert [e.kind for e in routed] == [
        "assigned",
        "sla_breached",
        "reassigned",
        "sla_breached",
        "reassigned",
        "sla_breached",
        "escalated",
    ]
    assert routed[-1].rep is not None and routed[-1].rep.name == "Marta"
    assert routed[-1].previous_rep is not None and routed[-1].previous_rep.name == first


async def test_without_an_escalation_target_the_lead_waits_for_a_rep_who_did_not_breach(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    config = RoutingConfig(topics=settings.topics, max_reassignments=1)  # the global default
    await add_reps(client, [ANNA, JONAS])
    entered = became_sql(_unique("no-manager"), temperature="hot")
    await route(sessions, config, Clock(START), entered)
    ticks = await _breach_until_quiet(sessions, config, START)
    assert sum(breached for breached, _ in ticks) == 2
    assert sum(assigned for _, assigned in ticks) == 0  # both reps breached: nobody to take it

    *_, waiting = await assignments_of(sessions, entered.lead_key)
    assert (waiting.kind, waiting.status, waiting.rep_id) == ("escalated", "queued", None)
    assert "names no escalation target" in waiting.reason
    ids = await add_reps(client, [MARTA])
    later = START + timedelta(hours=3)
    assert await RoutingClock(sessions, config, noop, Clock(later)).tick() == (0, 1)
    *_, taken = await assignments_of(sessions, entered.lead_key)
    assert (taken.kind, taken.rep_id, taken.sla_state) == ("assigned", ids[MARTA["email"]], None)
    assert await _breach_until_quiet(sessions, config, later) == [(0, 0)] * 20
    assert [e.kind for e in await emitted(sessions, entered.lead_key)][-2:] == [
        "escalated",
        "assigned",
    ]


async def test_an_open_lead_of_a_stage_no_longer_routed_keeps_its_rep_without_an_sla_clock(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    ids = await add_reps(client, [{**ANNA, "role": "bdr"}])
    with_bdrs = RoutingConfig(topics=settings.topics, route_mql_to_bdr=True)
    entered = became_sql(_unique("open-mql"), to_stage="mql", temperature="hot")
    await route(sessions, with_bdrs, Clock(START), entered)
    [held] = await assignments_of(sessions, entered.lead_key)
    assert (held.status, held.sla_state) == ("open", "running")

    without_bdrs = RoutingConfig(topics=settings.topics)
    clock = RoutingClock(sessions, without_bdrs, noop, Clock(START + timedelta(minutes=6)))
    assert await clock.tick() == (0, 0)
    [kept] = await assignments_of(sessions, entered.lead_key)
    assert (kept.status, kept.rep_id, kept.sla_state) == ("open", ids[ANNA["email"]], "stopped")
    assert [e.kind for e in await emitted(sessions, entered.lead_key)] == ["assigned"]

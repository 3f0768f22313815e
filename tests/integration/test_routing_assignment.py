"""Routing on real PostgreSQL: rules and pools from the API, traces, the fallback queue, SLA
breaches and re-assignment, lead_contacted, duplicates and concurrent deciders."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.entrypoints.jobs import RoutingClock
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.shared.events import LeadErased
from leadpipe.shared.settings import Settings
from tests.events import contacted
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


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    await clean_routing(sessions)
    async for found in api_client(sessions):
        yield found


@pytest.fixture
def config(settings: Settings) -> RoutingConfig:
    return RoutingConfig(topics=settings.topics)


async def test_bad_rep_attributes_are_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/reps", json={**ANNA, "time_zone": "Europe/Atlantis", "capacity": 3}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "time_zone",
            "reason": "'Europe/Atlantis' is not an IANA time zone (e.g. Europe/Berlin)",
        }
    ]
    response = await client.post("/v1/reps", json={**ANNA, "working_hours": "mon-fri 9 to 5"})
    assert response.json()["errors"][0]["field"] == "working_hours"
    response = await client.put("/v1/rules", json={"rules": [{"name": "x", "pool": "nope"}]})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "rules.0.pool", "reason": "no pool named 'nope'"}
    ]
    response = await client.put(
        "/v1/rules",
        json={"rules": [{"name": "x", "pool": "p", "conditions": {"contry": ["DE"]}}]},
    )
    assert response.json()["errors"][0]["field"] == "rules.0.conditions.contry"


async def test_rule_pool_and_trace_with_the_reason_of_each_excluded_rep(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    await add_reps(
        client,
        [
            {**ANNA, "territories": ["DE", "AT"], "time_zone": "Europe/Berlin"},
            {**JONAS, "territories": ["DE"], "out_of_office": ["2026-01-12..2026-01-16"]},
            {"name": "Joe", "email": "joe@sales.example", "role": "ae", "territories": "US"},
        ],
    )
    pool = {"role": "ae", "strategy": "least-loaded", "members": []}
    assert (await client.put("/v1/pools/field-sales", json=pool)).status_code == 200
    rules = {
        "rules": [
            {
                "name": "enterprise",
                "pool": "field-sales",
                "conditions": {"company_size": {"min": 1000}},
            },
            {
                "name": "hot DACH",
                "pool": "field-sales",
                "conditions": {"country": "DE, AT, CH", "temperature": ["hot"]},
            },
        ]
    }
    assert (await client.put("/v1/rules", json=rules)).status_code == 200
    assert (await client.get("/v1/rules")).json() == {
        "rules": [
            {
                "name": "enterprise",
                "pool": "field-sales",
                "conditions": {
                    "company_size": {"min": 1000, "max": None},
                    **_none_except("company_size"),
                },
            },
            {
                "name": "hot DACH",
                "pool": "field-sales",
                "conditions": {
                    **_none_except("country", "temperature"),
                    "country": ["DE", "AT", "CH"],
                    "temperature": ["hot"],
                },
            },
        ]
    }
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    event = became_sql("max@kunde.example", country="DE", temperature="hot", company_size=20)
    await route(sessions, config, Clock(now), event)

    found = (await client.get(f"/v1/leads/{event.lead_id}/assignments")).json()
    assert len(found) == 1
    assignment = found[0]
    assert assignment["rep"]["email"] == "anna@sales.example"
    assert (assignment["rule"], assignment["pool"], assignment["status"]) == (
        "hot DACH",
        "field-sales",
        "open",
    )
    assert assignment["sla_due_at"] == "2026-01-13T10:05:00Z"
    trace = assignment["trace"]
    assert trace["strategy"] == "least-loaded"
    assert [c["rule"] for c in trace["rules_checked"]] == ["enterprise", "hot DACH"]
    reasons = {c["name"]: c["excluded_because"] for c in trace["candidates"]}
    assert reasons == {
        "Anna": None,
        "Jonas": "out of office 2026-01-12..2026-01-16",
        "Joe": "territory DE not in US",
    }
    [routed] = await emitted(sessions, "max@kunde.example")
    assert routed.kind == "assigned" and routed.rep is not None and routed.rep.name == "Anna"
    assert routed.ce_type == "io.leadpipe.lead.assigned.v1"
    assert routed.pool == "field-sales" and routed.candidates_considered == 3
    assert set(routed.excluded.values()) == {
        "out of office 2026-01-12..2026-01-16",
        "territory DE not in US",
    }


def _none_except(*names: str) -> dict[str, None]:
    every = (
        "country",
        "industry",
        "language",
        "source",
        "account_domain",
        "grade",
        "temperature",
        "segment",
        "region",
        "company_size",
        "hand_raiser",
    )
    return {name: None for name in every if name not in names}


async def test_account_owner_gets_the_lead_first(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    await add_reps(client, [ANNA, JONAS])
    response = await client.put("/v1/accounts/Kunde.example/owner", json={"email": JONAS["email"]})
    assert response.status_code == 200
    clock = Clock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    await route(
        sessions, config, clock, became_sql("a@kunde.example"), became_sql("b@kunde.example")
    )
    owners = [
        a.trace["strategy"]
        for e in ("a@kunde.example", "b@kunde.example")
        for a in await assignments_of(sessions, e)
    ]
    assert owners == ["account-ownership", "account-ownership"]
    assert {a.rep_id for a in await assignments_of(sessions, "b@kunde.example")} == {
        (await client.get("/v1/reps")).json()[1]["id"]
    }


async def test_nobody_available_queues_the_lead_until_a_rep_is_back(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    ids = await add_reps(client, [{**ANNA, "capacity": 0}])
    clock = Clock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    await route(sessions, config, clock, became_sql("q@kunde.example"))
    [queued] = await assignments_of(sessions, "q@kunde.example")
    assert (queued.status, queued.rep_id) == ("queued", None)
    assert "fallback queue" in queued.reason
    assert queued.trace["candidates"][0]["excluded_because"] == "at capacity (0 of 0 open leads)"
    assert [a["lead_id"] for a in (await client.get("/v1/assignments?status=queued")).json()] == [
        queued.lead_id
    ]

    routing_clock = RoutingClock(sessions, config, noop, clock)
    assert await routing_clock.tick() == (0, 0)  # still nobody
    response = await client.put(f"/v1/reps/{ids[ANNA['email']]}", json={**ANNA, "capacity": 5})
    assert response.status_code == 200
    clock.now += timedelta(seconds=1)
    assert await routing_clock.tick() == (0, 1)
    waited, assigned = await assignments_of(sessions, "q@kunde.example")
    assert (waited.status, waited.closed_reason) == ("closed", "assigned from the fallback queue")
    assert (assigned.status, assigned.rep_id, assigned.kind) == (
        "open",
        ids[ANNA["email"]],
        "assigned",
    )
    assert [e.kind for e in await emitted(sessions, "q@kunde.example")] == ["queued", "assigned"]


async def test_sla_breach_reassigns_to_the_next_rep_after_a_restart(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    ids = await add_reps(client, [ANNA, JONAS])
    assigned_at = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    await route(
        sessions, config, Clock(assigned_at), became_sql("hot@kunde.example", temperature="hot")
    )
    [first] = await assignments_of(sessions, "hot@kunde.example")
    assert first.sla_due_at == assigned_at + timedelta(minutes=5)

    # Nothing is due yet; then routing "restarts": a new clock finds the stored timer.
    assert await RoutingClock(
        sessions, config, noop, Clock(assigned_at + timedelta(minutes=4))
    ).tick() == (0, 0)
    later = Clock(assigned_at + timedelta(minutes=6))
    assert await RoutingClock(sessions, config, noop, later).tick() == (1, 0)

    breached, second = await assignments_of(sessions, "hot@kunde.example")
    assert (breached.sla_state, breached.status) == ("breached", "closed")
    assert second.kind == "reassigned" and second.rep_id != first.rep_id
    assert second.rep_id in set(ids.values())
    assert second.previous_assignment_id == breached.id
    excluded = {c["rep_id"]: c["excluded_because"] for c in second.trace["candidates"]}
    assert excluded[str(first.rep_id)] == "breached the SLA on this lead"
    kinds = [
        (e.kind, e.rep.rep_id if e.rep else None)
        for e in await emitted(sessions, "hot@kunde.example")
    ]
    assert kinds == [
        ("assigned", first.rep_id),
        ("sla_breached", first.rep_id),
        ("reassigned", second.rep_id),
    ]
    # The timer fired once: another tick finds nothing.
    assert await RoutingClock(sessions, config, noop, later).tick() == (0, 0)


async def test_lead_contacted_stops_the_clock(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    await add_reps(client, [ANNA, JONAS])
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    await route(sessions, config, Clock(now), became_sql("c@kunde.example", temperature="warm"))
    await route(sessions, config, Clock(now + timedelta(minutes=20)), contacted("c@kunde.example"))
    [assignment] = await assignments_of(sessions, "c@kunde.example")
    assert assignment.sla_state == "met" and assignment.contacted_at is not None
    assert await RoutingClock(sessions, config, noop, Clock(now + timedelta(hours=2))).tick() == (
        0,
        0,
    )


async def test_a_redelivered_or_repeated_stage_change_assigns_once(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    await add_reps(client, [ANNA, JONAS])
    clock = Clock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    event = became_sql("d@kunde.example")
    await route(sessions, config, clock, event)
    await route(sessions, config, clock, event)
    again = became_sql("d@kunde.example")
    await route(sessions, config, clock, again)
    assert len(await assignments_of(sessions, "d@kunde.example")) == 1


async def test_leaving_the_routed_stage_frees_the_reps_capacity(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    await add_reps(client, [{**ANNA, "capacity": 1}])
    clock = Clock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    await route(sessions, config, clock, became_sql("e1@kunde.example"))
    assert (await client.get("/v1/reps")).json()[0]["open_leads"] == 1
    await route(sessions, config, clock, became_sql("e1@kunde.example", to_stage="disqualified"))
    [closed] = await assignments_of(sessions, "e1@kunde.example")
    assert (closed.status, closed.closed_reason) == ("closed", "lead moved to disqualified")
    assert (await client.get("/v1/reps")).json()[0]["open_leads"] == 0


async def test_mql_goes_to_bdrs_only_when_enabled(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await add_reps(client, [ANNA, {"name": "Lena", "email": "lena@sales.example", "role": "bdr"}])
    clock = Clock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    off = RoutingConfig(topics=settings.topics)
    await route(sessions, off, clock, became_sql("m1@kunde.example", to_stage="mql"))
    assert await assignments_of(sessions, "m1@kunde.example") == []
    on = RoutingConfig(topics=settings.topics, route_mql_to_bdr=True)
    await route(sessions, on, clock, became_sql("m2@kunde.example", to_stage="mql"))
    [assignment] = await assignments_of(sessions, "m2@kunde.example")
    assert assignment.role == "bdr" and assignment.trace["candidates"][0]["name"] == "Lena"


async def test_concurrent_deciders_share_one_fair_rotation(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    ids = await add_reps(
        client,
        [ANNA, JONAS, {"name": "Mia", "email": "mia@sales.example", "role": "ae"}],
    )
    clock = Clock(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))
    emails = [f"f{i}@kunde{i}.example" for i in range(30)]
    # Three deciders on their own connections, each with a third of the leads, at once.
    await asyncio.gather(
        *(route(sessions, config, clock, *(became_sql(e) for e in emails[k::3])) for k in range(3))
    )
    picks: Counter[str | None] = Counter()
    for email in emails:
        picks.update(a.rep_id for a in await assignments_of(sessions, email))
    assert picks == {rep_id: 10 for rep_id in ids.values()}


async def test_one_batch_is_decided_in_order_as_single_events_would_be(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    """A batch is decided in memory, but each event sees what the ones before it did: the
    rotation moves on, a redelivered copy is skipped, a lead that leaves frees its rep, and
    a first touch stops the clock of an assignment made earlier in the same batch."""
    ids = await add_reps(client, [ANNA, JONAS])
    first, second = sorted(ids.values())  # round-robin goes in rep id order
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    emails = [f"{name}@batch{name}.example" for name in "abcd"]
    a, b, c, d = (became_sql(email) for email in emails)
    await route(
        sessions,
        config,
        Clock(now),
        a,
        a,  # the same event twice in one batch
        b,
        contacted(emails[0]),
        c,
        became_sql(emails[1], to_stage="disqualified"),
        d,
    )
    [for_a] = await assignments_of(sessions, a.lead_key)
    [for_b] = await assignments_of(sessions, b.lead_key)
    [for_c] = await assignments_of(sessions, c.lead_key)
    [for_d] = await assignments_of(sessions, d.lead_key)
    assert [x.rep_id for x in (for_a, for_b, for_c, for_d)] == [first, second, first, second]
    assert (for_a.sla_state, for_a.contacted_at is not None) == ("met", True)
    assert (for_b.status, for_b.closed_reason, for_b.sla_state) == (
        "closed",
        "lead moved to disqualified",
        "stopped",
    )
    assert for_c.trace["previous"] == second and for_d.trace["previous"] == first
    open_leads = {rep["id"]: rep["open_leads"] for rep in (await client.get("/v1/reps")).json()}
    assert open_leads == {first: 2, second: 1}
    assert [(e.kind, e.assignment_id) for e in await emitted(sessions, a.lead_key)] == [
        ("assigned", for_a.id)
    ]
    # The next batch goes on from where this one left the rotation.
    e = became_sql("e@batche.example")
    await route(sessions, config, Clock(now), e)
    assert [x.rep_id for x in await assignments_of(sessions, e.lead_key)] == [first]


async def test_an_erasure_in_a_batch_applies_to_what_came_before_it_and_after(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], config: RoutingConfig
) -> None:
    ids = await add_reps(client, [ANNA])
    now = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    entered = became_sql("erase.me@kunde.example")
    erased = LeadErased(
        event_id=str(uuid.uuid4()), occurred_at=now, lead_id=entered.lead_id, erasure_id="e-1"
    )
    await route(sessions, config, Clock(now), entered, erased, became_sql("erase.me@kunde.example"))

    assert await assignments_of(sessions, entered.lead_key) == []
    assert await emitted(sessions, entered.lead_key) == []  # its routed event went with it
    [kept] = (await client.get(f"/v1/leads/{entered.lead_id}/assignments")).json()
    assert (kept["status"], kept["closed_reason"]) == (
        "closed",
        "the person's data was erased on request",
    )
    assert (await client.get(f"/v1/reps/{ids[ANNA['email']]}")).json()["open_leads"] == 0
    # Events about the lead after its erasure, in later batches as well, are ignored.
    await route(sessions, config, Clock(now), became_sql("erase.me@kunde.example"))
    assert len((await client.get(f"/v1/leads/{entered.lead_id}/assignments")).json()) == 1

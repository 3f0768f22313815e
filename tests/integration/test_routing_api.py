"""Reps, pools and account owners over routing's HTTP API, on real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.entrypoints.rep_file import parse_reps
from tests.integration.routing_helpers import api_client, clean_routing

pytestmark = pytest.mark.integration

TEAM = """
- {name: Anna Schmidt, email: anna@sales.example, role: ae, territories: [DE, AT], capacity: 20,
   time_zone: Europe/Berlin, working_hours: "mon-fri 09:00-17:00", holiday_calendar: DE-BY}
- {name: Lena Fischer, email: lena@sales.example, role: bdr, languages: [de, en]}
"""


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[httpx.AsyncClient]:
    await clean_routing(sessions)
    async for found in api_client(sessions):
        yield found


async def _import(client: httpx.AsyncClient, text: str) -> httpx.Response:
    reps = parse_reps(text, "team.yaml")
    return await client.post(
        "/v1/reps/import", json={"reps": [r.model_dump(mode="json") for r in reps]}
    )


async def test_import_creates_then_updates_by_email(client: httpx.AsyncClient) -> None:
    response = await _import(client, TEAM)
    assert response.json() == {"created": 2, "updated": 0}
    changed = TEAM.replace("capacity: 20", "capacity: 25")
    assert (await _import(client, changed)).json() == {"created": 0, "updated": 2}
    reps = {r["email"]: r for r in (await client.get("/v1/reps")).json()}
    anna = reps["anna@sales.example"]
    assert (anna["capacity"], anna["holiday_calendar"], anna["working_hours"]) == (
        25,
        "DE-BY",
        "mon-fri 09:00-17:00",
    )
    assert anna["territories"] == ["DE", "AT"] and anna["open_leads"] == 0
    assert reps["lena@sales.example"]["languages"] == ["de", "en"]


async def test_import_of_the_same_email_twice_is_refused_whole(client: httpx.AsyncClient) -> None:
    rep = {"name": "A", "email": "a@sales.example", "role": "ae"}
    response = await client.post("/v1/reps/import", json={"reps": [rep, rep]})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "reps.1.email", "reason": "a@sales.example appears twice"}
    ]
    assert (await client.get("/v1/reps")).json() == []


async def test_pool_members_must_be_reps_of_the_pools_role(client: httpx.AsyncClient) -> None:
    await _import(client, TEAM)
    response = await client.put(
        "/v1/pools/dach", json={"role": "ae", "members": ["lena@sales.example"]}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "members.0", "reason": "lena@sales.example is a bdr, the pool is for aes"}
    ]
    response = await client.put(
        "/v1/pools/dach",
        json={"role": "ae", "strategy": "weighted-round-robin", "members": ["anna@sales.example"]},
    )
    assert response.status_code == 200
    assert (await client.get("/v1/pools")).json() == [
        {
            "name": "dach",
            "role": "ae",
            "strategy": "weighted-round-robin",
            "members": ["anna@sales.example"],
            "match_coverage": True,
            "max_reassignments": None,
            "escalate_to": None,
        }
    ]
    response = await client.put("/v1/rules", json={"rules": [{"name": "DACH", "pool": "dach"}]})
    assert response.status_code == 200
    conflict = await client.delete("/v1/pools/dach")
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["reason"] == "rule 'DACH' routes to this pool"


async def test_an_unknown_pool_strategy_is_refused_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/v1/pools/dach", json={"role": "ae", "strategy": "random"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "strategy"
    assert "round-robin" in error["reason"]
    assert (await client.get("/v1/pools")).json() == []


async def test_deactivated_rep_stays_listed_but_inactive(client: httpx.AsyncClient) -> None:
    await _import(client, TEAM)
    anna = next(r for r in (await client.get("/v1/reps")).json() if r["role"] == "ae")
    response = await client.delete(f"/v1/reps/{anna['id']}")
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await client.get(f"/v1/reps/{anna['id']}")).json()["active"] is False
    missing = await client.get("/v1/reps/nope")
    assert missing.status_code == 404
    assert missing.json()["errors"] == [{"field": "rep_id", "reason": "no such rep"}]


async def test_account_owner_must_be_a_rep(client: httpx.AsyncClient) -> None:
    await _import(client, TEAM)
    response = await client.put(
        "/v1/accounts/kunde.example/owner", json={"email": "nobody@sales.example"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"
    response = await client.put(
        "/v1/accounts/Kunde.Example/owner", json={"email": "anna@sales.example"}
    )
    assert response.json()["account_domain"] == "kunde.example"
    [owner] = (await client.get("/v1/accounts")).json()
    assert owner["owner"]["email"] == "anna@sales.example"

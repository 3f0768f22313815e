from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import Depends, FastAPI

from leadpipe.shared.auth import KnownToken, Scope, issue_token, match_token, require
from leadpipe.shared.problems import install_problem_handlers


def test_a_token_is_stored_only_as_its_digest_and_matches_itself() -> None:
    issued = issue_token("crm-sync", Scope.READ)
    assert issued.token.startswith("lpt_")
    assert issued.token not in issued.digest
    known = [KnownToken("other", Scope.ADMIN, issue_token("x", Scope.ADMIN).digest)]
    known.append(KnownToken(issued.name, issued.scope, issued.digest))
    assert match_token(issued.token, known) == known[1]
    assert match_token(issued.token + "x", known) is None


def test_admin_allows_read_but_read_does_not_allow_admin() -> None:
    assert Scope.ADMIN.allows(Scope.READ)
    assert not Scope.READ.allows(Scope.ADMIN)


@dataclass(frozen=True)
class Client:
    http: httpx.AsyncClient
    reader: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    reader, admin = issue_token("reader", Scope.READ), issue_token("admin", Scope.ADMIN)
    app = FastAPI()
    install_problem_handlers(app)

    async def known(fresh: bool = False) -> list[KnownToken]:
        return [KnownToken(t.name, t.scope, t.digest) for t in (reader, admin)]

    app.state.known_tokens = known

    @app.get("/read", dependencies=[Depends(require(Scope.READ))])
    async def read() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/admin", dependencies=[Depends(require(Scope.ADMIN))])
    async def write() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Client(
            http,
            reader={"Authorization": f"Bearer {reader.token}"},
            admin={"Authorization": f"Bearer {admin.token}"},
        )


async def test_requests_without_a_valid_token_are_refused_with_the_reason(client: Client) -> None:
    missing = await client.http.get("/read")
    assert missing.status_code == 401
    assert missing.json()["errors"] == [
        {"field": "Authorization", "reason": "a Bearer token is required"}
    ]
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.http.get("/read", headers={"Authorization": "Bearer lpt_nope"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["reason"] == "unknown or revoked token"


async def test_scopes_are_enforced(client: Client) -> None:
    assert (await client.http.get("/read", headers=client.reader)).status_code == 200
    assert (await client.http.post("/admin", headers=client.reader)).status_code == 403
    assert (await client.http.post("/admin", headers=client.admin)).status_code == 200
    assert (await client.http.get("/read", headers=client.admin)).status_code == 200

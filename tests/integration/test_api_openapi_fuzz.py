"""No client input yields a 5xx from scoring's or routing's API: schemathesis generates
requests from their OpenAPI documents (valid and invalid ones: NUL characters, times at the
edges of datetime's range, huge numbers) and sends them, with an admin token, to the running
services. Every refusal is a problem document naming its reason."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from leadpipe.routing.main import create_app as create_routing
from leadpipe.scoring.main import create_app as create_scoring
from leadpipe.shared.settings import Settings
from tests.service_processes import ServiceProcess, service_processes

pytestmark = pytest.mark.integration

CONFIG = SchemathesisConfig.from_dict({"generation": {"mode": "all"}})
# The documents the services serve at /openapi.json; building the apps connects to nothing.
scoring_schema = schemathesis.openapi.from_dict(create_scoring(Settings()).openapi(), config=CONFIG)
routing_schema = schemathesis.openapi.from_dict(create_routing(Settings()).openapi(), config=CONFIG)
# Values that once reached the database and failed there (500): text with NUL, instants
# whose conversion to UTC leaves datetime's range, a cursor carrying either, huge numbers.
# schemathesis rarely draws them by itself, so a hook puts one into a generated request.
NASTY: list[object] = [
    "a\x00b",
    "\x00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999Z",
    base64.urlsafe_b64encode(b"9999-12-31T23:59:59-14:00|x").decode(),
    base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|a\x00b").decode(),
    base64.urlsafe_b64encode(b"2026-01-01T00:00:00|x").decode(),
    2**63,
    -(2**63),
    10**30,
]


def spiced(ctx: object, container: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """The generated container as it is, or with one value replaced by a nasty one."""
    if not isinstance(container, dict) or not container:
        return st.just(container)
    keys = sorted(container)
    return st.one_of(
        st.just(container),
        st.builds(
            lambda key, value: {**container, key: value},
            st.sampled_from(keys),
            st.sampled_from(NASTY),
        ),
    )


for fuzzed in (scoring_schema, routing_schema):
    for part in ("query", "path_parameters", "body"):
        fuzzed.hook(f"flatmap_{part}")(spiced)

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class Targets:
    scoring: str
    routing: str
    authorization: str


@pytest.fixture(scope="module")
def targets(
    settings: Settings,
    topics_created: None,
    api_token: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Targets]:
    logs: Path = tmp_path_factory.mktemp("api-fuzz")
    processes = service_processes(settings, logs)
    started: list[ServiceProcess] = []
    try:
        # Scoring's erasure shreds the person's keys through ingest: it runs too.
        for name in ("ingest", "scoring", "routing"):
            processes[name].start()
            started.append(processes[name])
        for process in started:
            process.wait_ready()
        yield Targets(processes["scoring"].url, processes["routing"].url, f"Bearer {api_token}")
    finally:
        for process in started:
            process.stop()


def check(case: schemathesis.Case[Any], base_url: str, authorization: str) -> None:
    response = case.call(base_url=base_url, headers={"Authorization": authorization})
    where = (case.method, case.formatted_path, case.query, response.text[:500])
    assert response.status_code < 500, where
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json"), where
        problem = response.json()
        assert problem["status"] == response.status_code, where
        assert problem["detail"] and problem["errors"], where
        assert all(error["reason"] for error in problem["errors"]), where


@scoring_schema.parametrize()
@FUZZ
def test_no_request_to_scoring_yields_a_server_error(
    case: schemathesis.Case[Any], targets: Targets
) -> None:
    check(case, targets.scoring, targets.authorization)


@routing_schema.parametrize()
@FUZZ
def test_no_request_to_routing_yields_a_server_error(
    case: schemathesis.Case[Any], targets: Targets
) -> None:
    check(case, targets.routing, targets.authorization)


REFUSED = [
    ("scoring", "GET", "/v1/leads?email=a%00b", "email"),
    ("scoring", "GET", "/v1/leads/%00", "lead_id"),
    ("scoring", "GET", "/v1/leads?updated_since=9999-12-31T23:59:59-14:00", "updated_since"),
    ("scoring", "GET", "/v1/leads?updated_since=0001-01-01T00:00:00%2B14:00", "updated_since"),
    ("scoring", "GET", "/v1/leads?updated_since=2026-01-01T00:00:00", "updated_since"),
    ("scoring", "GET", f"/v1/leads?cursor={NASTY[5]}", "cursor"),
    ("scoring", "GET", f"/v1/leads?cursor={NASTY[6]}", "cursor"),
    ("routing", "GET", "/v1/reps/%00", "rep_id"),
    ("routing", "DELETE", "/v1/pools/a%00b", "name"),
    ("routing", "GET", "/v1/leads/a%00b/assignments", "lead_id"),
    ("routing", "DELETE", "/v1/accounts/a%00b/owner", "account_domain"),
]


@pytest.mark.parametrize(("service", "method", "path", "field"), REFUSED)
def test_bad_input_is_refused_naming_the_field(
    targets: Targets, service: str, method: str, path: str, field: str
) -> None:
    base = targets.scoring if service == "scoring" else targets.routing
    response = httpx.request(
        method, base + path, headers={"Authorization": targets.authorization}, timeout=10
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]], response.text


def test_a_number_beyond_the_database_column_is_refused_naming_the_field(
    targets: Targets,
) -> None:
    rep = {"name": "Huge", "email": f"huge.{uuid.uuid4().hex[:6]}@sales.example", "role": "ae"}
    response = httpx.post(
        f"{targets.routing}/v1/reps",
        json={**rep, "capacity": 2**63},
        headers={"Authorization": targets.authorization},
        timeout=10,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "capacity"

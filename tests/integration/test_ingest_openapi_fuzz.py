"""No client input yields a 5xx: schemathesis generates requests from ingest's OpenAPI
document and sends them to a running ingest (with a valid write key, so that tracking
bodies get past authentication into validation)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.ingest.main import create_app
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import IngestProcess, new_source, wait_for_source

pytestmark = pytest.mark.integration
# The document the service serves at /openapi.json; building the app connects to nothing.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
# Times and emails that have broken consumers or ingest itself, among ordinary ones: times that
# leave the calendar once in UTC, far ahead or before 1970, odd offsets; text with a NUL.
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(
            [
                "0001-01-01T00:00:00+01:00",
                "9999-12-31T23:00:00-05:00",
                "3000-01-01T00:00:00Z",
                "1969-12-31T23:59:59Z",
            ]
        ),
        st.datetimes(timezones=OFFSETS).map(lambda at: at.isoformat()),
    ),
)
schemathesis.openapi.format(
    "email", st.one_of(st.emails(), st.emails().map(lambda email: "\x00" + email))
)


@dataclass(frozen=True)
class Target:
    url: str
    authorization: str


@pytest.fixture(scope="module")
async def target(
    settings: Settings,
    topics_created: None,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Target]:
    process = IngestProcess(settings, tmp_path_factory.mktemp("fuzz") / "ingest.log").start()
    try:
        source = await new_source(sessions, SourceKind.SEGMENT)
        known = wait_for_source(
            lambda: httpx.post(f"{process.url}/v1/batch", json={"writeKey": source.credential}),
            "writeKey",
        )
        assert known.status_code == 400
        basic = base64.b64encode(f"{source.credential}:".encode()).decode()
        yield Target(process.url, f"Basic {basic}")
    finally:
        process.stop()


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_yields_a_server_error(case: schemathesis.Case[Any], target: Target) -> None:
    response = case.call(base_url=target.url, headers={"Authorization": target.authorization})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        # Every refusal names its reason in JSON.
        refusal = response.json()
        assert "error" in refusal, (case.method, case.formatted_path, response.text)
        assert refusal["error"]["reason"]

"""A source is usable the moment it is added and refused the moment it is revoked: the store
announces each change and ingest reloads at once, with the periodic reload set far out of
reach here so that only the announcement can explain a prompt answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.source_store import CHANGES_CHANNEL, revoke_source
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import IngestProcess, new_source

pytestmark = pytest.mark.integration

# How long a test polls before it gives up: generous, since the machine may be busy, and still
# a twentieth of the periodic reload set below, so only the announcement explains an answer.
PROMPTLY_S = 30.0


@pytest.fixture(scope="module")
def ingest(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IngestProcess]:
    log = tmp_path_factory.mktemp("ingest") / "ingest.log"
    process = IngestProcess(settings, log, LEADPIPE_SOURCE_REFRESH_S="600").start()
    yield process
    process.stop()


async def _answer_within(
    send: Callable[[], httpx.Response], status: int, within_s: float = PROMPTLY_S
) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        response = await asyncio.to_thread(send)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.02)


def _track(ingest: IngestProcess, write_key: str) -> Callable[[], httpx.Response]:
    call = {"writeKey": write_key, "userId": "u-1", "event": "Signed Up"}
    return lambda: httpx.post(f"{ingest.url}/v1/track", json=call)


async def test_a_new_write_key_is_accepted_and_a_revoked_one_refused_at_once(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await new_source(sessions, SourceKind.SEGMENT)
    accepted = await _answer_within(_track(ingest, source.credential), 200)
    assert accepted.status_code == 200, accepted.text
    async with sessions() as session, session.begin():
        assert await revoke_source(session, source.name, datetime.now(UTC))
    refused = await _answer_within(_track(ingest, source.credential), 401)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["field"] == "writeKey"


async def test_changes_are_seen_at_once_after_the_listening_connection_was_lost(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        ended = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query = :listen"
            ),
            {"listen": f'LISTEN "{CHANGES_CHANNEL}"'},
        )
    assert ended == 1
    source = await new_source(sessions, SourceKind.SEGMENT)
    # Listening again takes a new connection first; still far within the periodic reload.
    accepted = await _answer_within(_track(ingest, source.credential), 200)
    assert accepted.status_code == 200, accepted.text

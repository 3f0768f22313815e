"""ingest as a process against the test Kafka and PostgreSQL, and sources made for tests:
what the real client libraries talk to in the ingest integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_store import NewSource, SourceOptions, add_source
from leadpipe.localstack.processes import free_port
from leadpipe.localstack.repo import repo_root
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader
from tests.sealed_events import opened

# One key for every ingest process of a test run, as `leadpipe up` gives one to all.
SECRETS_KEY = Fernet.generate_key().decode()


class IngestProcess:
    def __init__(self, settings: Settings, log: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.log = log
        self.env = dict(os.environ)
        self.env.update(
            {
                "LEADPIPE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                "LEADPIPE_DATABASE_URL": settings.database_url,
                "LEADPIPE_TOPIC_PREFIX": settings.topic_prefix,
                "LEADPIPE_INGEST_PORT": str(self.port),
                "LEADPIPE_SECRETS_KEY": SECRETS_KEY,
                "LEADPIPE_SOURCE_REFRESH_S": "0.3",
                **extra_env,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> IngestProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "leadpipe.ingest.main"],
                cwd=repo_root(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ingest exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"ingest not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


async def new_source(
    sessions: async_sessionmaker[AsyncSession],
    kind: str,
    options: SourceOptions | None = None,
    name: str | None = None,
) -> NewSource:
    """A fresh source, as `leadpipe source add` makes it."""
    async with sessions() as session, session.begin():
        return await add_source(
            session,
            SecretBox(SECRETS_KEY),
            name or f"{kind}-{uuid.uuid4().hex[:8]}",
            kind,
            options or SourceOptions(),
        )


def wait_until(
    send: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """Repeats ``send`` until ``done`` holds for its answer (ingest reloads its sources every
    0.3 s here); returns the last answer, for the test to assert on."""
    deadline = time.monotonic() + 15.0
    while True:
        response = send()
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def wait_for_source(send: Callable[[], httpx.Response], unknown_field: str) -> httpx.Response:
    """Until ingest knows a new source: its answer is no longer a 401 naming ``unknown_field``."""
    return wait_until(
        send,
        lambda r: not (r.status_code == 401 and r.json()["error"]["field"] == unknown_field),
    )


def wait_for_revocation(send: Callable[[], httpx.Response]) -> httpx.Response:
    """Until ingest refuses ``send`` with 401 (a revoked source)."""
    return wait_until(send, lambda r: r.status_code == 401)


async def read_events(
    reader: TopicReader, keys: set[str], count: int, database_url: str, timeout_s: float = 30.0
) -> list[InboundEvent]:
    """The first ``count`` inbound events keyed by any of ``keys``, in the order read, opened
    with their data keys from ``database_url``."""
    wanted = {record_key(key).encode() for key in keys}  # records are keyed by pseudonyms
    found: list[InboundEvent] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} events within {timeout_s} s")
        for records in (await reader.consumer.getmany(timeout_ms=100)).values():
            mine = [record for record in records if record.key in wanted]
            if mine:
                found += [e for e in await opened(mine, database_url) if e is not None]
    return found

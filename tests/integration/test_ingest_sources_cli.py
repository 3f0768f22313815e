"""``leadpipe source add|list|revoke`` against the test PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from leadpipe.cli.main import app
from leadpipe.ingest.adapters.orm import SourceRow
from leadpipe.ingest.domain.sources import key_hash
from leadpipe.shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("LEADPIPE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("LEADPIPE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEADPIPE_SECRETS_KEY", key)
    return key


async def _leadpipe(*args: str) -> Result:
    # The command runs its own event loop, so not on the test's. The table is laid out for the
    # terminal's width: a fixed one, whatever the test runner's.
    runner = CliRunner(env={"COLUMNS": "200"})
    return await asyncio.to_thread(runner.invoke, app, list(args))


def _credential(output: str) -> str:
    lines = output.strip().splitlines()
    assert "shown once" in lines[-2], output
    return lines[-1]


async def _row(sessions: async_sessionmaker[AsyncSession], name: str) -> SourceRow:
    async with sessions() as session:
        row = await session.get(SourceRow, name)
    assert row is not None
    return row


async def test_a_segment_source_prints_its_write_key_once_and_stores_only_its_hash(
    cli_env: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    added = await _leadpipe("source", "add", name, "--kind", "segment")
    assert added.exit_code == 0, added.output
    write_key = _credential(added.output)
    row = await _row(sessions, name)
    assert row.key_hash == key_hash(write_key)
    assert row.secret_encrypted is None
    listed = await _leadpipe("source", "list")
    assert name in listed.output
    assert write_key not in listed.output
    again = await _leadpipe("source", "add", name, "--kind", "segment")
    assert again.exit_code == 1
    assert "exists already" in again.output


async def test_a_webhook_secret_is_stored_encrypted_and_a_source_can_be_revoked(
    cli_env: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    name = f"crm-{uuid.uuid4().hex[:6]}"
    added = await _leadpipe("source", "add", name, "--kind", "webhook")
    assert added.exit_code == 0, added.output
    assert f"/v1/webhooks/{name}" in added.output
    secret = _credential(added.output)
    assert secret.startswith("whsec_")
    row = await _row(sessions, name)
    assert row.secret_encrypted is not None
    assert secret not in row.secret_encrypted
    assert Fernet(cli_env.encode()).decrypt(row.secret_encrypted.encode()).decode() == secret
    revoked = await _leadpipe("source", "revoke", name)
    assert revoked.exit_code == 0, revoked.output
    assert (await _row(sessions, name)).revoked_at is not None
    twice = await _leadpipe("source", "revoke", name)
    assert twice.exit_code == 1


async def test_a_name_that_cannot_be_a_url_path_is_refused(cli_env: str) -> None:
    result = await _leadpipe("source", "add", "my form", "--kind", "form")
    assert result.exit_code == 2
    assert "NAME" in result.output

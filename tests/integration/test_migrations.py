"""Both services' migrations, up and down, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from leadpipe.localstack.repo import repo_root
from leadpipe.shared import migrate
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.integration

EXPECTED = {
    "scoring": {
        "leads",
        "score_changes",
        "stage_changes",
        "processed_events",
        "outbox",
        "rules_versions",
        "inbound_events",
        "accounts",
        "api_tokens",
        "suppressions",
        "erasure_receipts",
    },
    "routing": {
        "reps",
        "pools",
        "routing_rules",
        "account_owners",
        "rotation_cursors",
        "assignments",
        "processed_events",
        "outbox",
        "api_tokens",
        "erased_leads",
    },
    "ingest": {"sources", "subject_keys"},
}


async def _tables(dsn: str) -> dict[str, set[str]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1::text[]) AND table_name <> 'alembic_version'",
            list(EXPECTED),
        )
    finally:
        await connection.close()
    found: dict[str, set[str]] = {schema: set() for schema in EXPECTED}
    for row in rows:
        found[row["table_schema"]].add(row["table_name"])
    return found


async def test_upgrade_and_downgrade_on_a_fresh_database(infra: Infrastructure) -> None:
    url = make_url(infra.database_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"leadpipe_migrations_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain)
    await admin.execute(f'CREATE DATABASE "{name}"')
    fresh = url.set(database=name)
    fresh_plain = fresh.set(drivername="postgresql").render_as_string(hide_password=False)
    fresh_url = fresh.render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrate.upgrade, repo_root(), fresh_url)
        assert await _tables(fresh_plain) == EXPECTED
        await asyncio.to_thread(migrate.downgrade, repo_root(), fresh_url)
        assert await _tables(fresh_plain) == {schema: set() for schema in EXPECTED}
        await asyncio.to_thread(migrate.upgrade, repo_root(), fresh_url)
        assert await _tables(fresh_plain) == EXPECTED
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

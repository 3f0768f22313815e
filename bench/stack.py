"""Kafka and PostgreSQL for a benchmark run: the ones named by LEADPIPE_KAFKA_BOOTSTRAP and
LEADPIPE_DATABASE_URL when both are set, otherwise a fresh local stack on free ports in the run's
work directory. Either way the run gets a database of its own (created, migrated, dropped) and
topic names of its own, so a developer's data is never touched and runs never see each other."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from bench.machine import kafka_version_pinned
from bench.processes import ensure_pseudonym_key
from leadpipe.localstack.processes import free_port
from leadpipe.localstack.repo import repo_root
from leadpipe.localstack.reporting import Log
from leadpipe.localstack.stack import LocalStack
from leadpipe.shared import migrate
from leadpipe.shared.settings import Settings

UNLIMITED_RATE = 10_000_000


@dataclass(frozen=True)
class BenchStack:
    kafka_bootstrap: str
    database_url: str  # the run's own database (SQLAlchemy URL, asyncpg driver)
    run_id: str
    how: str
    kafka_version: str

    @property
    def dsn(self) -> str:
        """The same database as a plain libpq URL, for raw asyncpg."""
        return plain_dsn(self.database_url)

    def settings(self, phase: str) -> Settings:
        """Service settings whose topics belong to this run and phase only."""
        return Settings(
            kafka_bootstrap=self.kafka_bootstrap,
            database_url=self.database_url,
            topic_prefix=f"bench-{self.run_id}-{phase}.",
            # Far above any offered load: the figures measure ingest, not its per-source limiter.
            source_rate_per_s=UNLIMITED_RATE,
            source_rate_burst=UNLIMITED_RATE,
        )


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@asynccontextmanager
async def bench_stack(work_dir: Path, log: Log) -> AsyncIterator[BenchStack]:
    run_id = secrets.token_hex(3)
    ensure_pseudonym_key()
    kafka_env = os.environ.get("LEADPIPE_KAFKA_BOOTSTRAP")
    database_env = os.environ.get("LEADPIPE_DATABASE_URL")
    local: LocalStack | None = None
    if kafka_env and database_env:
        kafka, server_url = kafka_env, database_env
        how = "reused: LEADPIPE_KAFKA_BOOTSTRAP and LEADPIPE_DATABASE_URL"
        kafka_version = f"unknown (reused broker; the local stack pins {kafka_version_pinned()})"
    else:
        root = work_dir / "stack"
        root.mkdir(parents=True)
        # PostgreSQL runs as its own OS user and must reach its data directory.
        for directory in (work_dir, root):
            directory.chmod(0o755)
        ports = sorted({free_port() for _ in range(6)})[:3]
        local = LocalStack(
            root=root,
            kafka_port=ports[0],
            kafka_controller_port=ports[1],
            postgres_port=ports[2],
            cache_dir=repo_root() / ".leadpipe" / "cache",
            durable=True,
        )
        log(f"stack: starting Kafka and PostgreSQL in {root}…")
        await asyncio.to_thread(local.up, log)
        kafka, server_url = local.kafka_bootstrap, local.database_url
        how = "own local stack on free ports (PostgreSQL with fsync on)"
        kafka_version = kafka_version_pinned()
    database = f"leadpipe_bench_{run_id}"
    try:
        admin = await asyncpg.connect(plain_dsn(server_url))
        try:
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        url = _with_database(server_url, database)
        log(f"database {database}: migrating…")
        # Alembic's env runs its own event loop: not on this one.
        await asyncio.to_thread(migrate.upgrade, repo_root(), url)
        try:
            yield BenchStack(kafka, url, run_id, how, kafka_version)
        finally:
            await _drop_topics(kafka, f"bench-{run_id}-")
            await _drop_database(server_url, database)
    finally:
        if local is not None:
            log("stack: stopping…")
            local.down(log)


async def _drop_database(server_url: str, database: str) -> None:
    """Drops the run's database, ending whatever still uses it. FORCE may not end an
    autovacuum worker (a superuser's process) busy with the rows the run wrote; a plain DROP
    asks it to stop and waits for it."""
    admin = await asyncpg.connect(plain_dsn(server_url))
    try:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        except asyncpg.InsufficientPrivilegeError:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    finally:
        await admin.close()


async def _drop_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadpipe-bench")
    await admin.start()
    try:
        ours = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if ours:
            with suppress(Exception):
                await admin.delete_topics(ours)
    finally:
        await admin.close()

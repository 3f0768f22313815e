"""Alembic plumbing shared by the per-service migration environments (``migrations/<service>``).

Each service keeps its tables and its ``alembic_version`` table in its own schema, so the
services' migration histories never meet."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES = ("scoring", "routing", "ingest")


def alembic_config(repo_root: Path, service: str, database_url: str) -> Config:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    config = Config(str(repo_root / "alembic.ini"), ini_section=service)
    config.set_main_option("script_location", str(repo_root / "migrations" / service))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(repo_root: Path, database_url: str, revision: str = "head") -> None:
    for service in SERVICES:
        command.upgrade(alembic_config(repo_root, service, database_url), revision)


def downgrade(repo_root: Path, database_url: str, revision: str = "base") -> None:
    for service in reversed(SERVICES):
        command.downgrade(alembic_config(repo_root, service, database_url), revision)


def run_env(metadata: MetaData) -> None:
    """The body of a service's ``env.py``: online migrations on an asyncpg engine."""
    schema = metadata.schema
    assert schema, "each service's metadata names its schema"
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        from leadpipe.shared.settings import Settings

        url = Settings().database_url

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run())

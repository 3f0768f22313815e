"""The token `leadpipe up` gives the CLI, against real PostgreSQL: it must work with whatever
database the CLI talks to, even when that database is newer than the token file."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from leadpipe.cli.config import Environment
from leadpipe.cli.tokens import CLI_TOKEN_NAME, TABLES, ensure_cli_token
from leadpipe.shared.auth import token_digest
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.settings import Settings

pytestmark = pytest.mark.integration


async def _digests(database_url: str) -> list[set[str]]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return [
                set(
                    await session.scalars(
                        select(table.c.digest).where(table.c.name == CLI_TOKEN_NAME)
                    )
                )
                for table in TABLES
            ]
    finally:
        await engine.dispose()


async def _forget_cli_token(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for table in TABLES:
                await session.execute(delete(table).where(table.c.name == CLI_TOKEN_NAME))
    finally:
        await engine.dispose()


def test_the_cli_token_is_made_once_and_registered_again_in_a_database_without_it(
    settings: Settings, tmp_path: Path
) -> None:
    env = Environment(settings=settings, state_dir=tmp_path, stack=None)
    token_file = tmp_path / "cli-token"

    ensure_cli_token(env)
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert asyncio.run(_digests(settings.database_url)) == [{token_digest(token)}] * len(TABLES)

    # A wiped local stack: the file stays, the database has never seen its token.
    asyncio.run(_forget_cli_token(settings.database_url))
    ensure_cli_token(env)
    assert token_file.read_text().strip() == token
    assert asyncio.run(_digests(settings.database_url)) == [{token_digest(token)}] * len(TABLES)

    ensure_cli_token(env)  # every `leadpipe up` again: still one token of that name
    assert asyncio.run(_digests(settings.database_url)) == [{token_digest(token)}] * len(TABLES)

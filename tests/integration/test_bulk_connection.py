"""Scoring and routing write their batches with set-based statements on the session's asyncpg
connection (`shared.bulk.Connection`); its failures must reach the consume loop as the ORM's
would, so that a deadlock is retried and a broken batch is not retried for ever."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.shared.bulk import Connection
from leadpipe.shared.dead_letters import is_transient

pytestmark = pytest.mark.integration


async def _fail_with(sessions: async_sessionmaker[AsyncSession], sqlstate: str) -> DBAPIError:
    async with sessions() as session, session.begin():
        connection = await Connection.of(session)
        with pytest.raises(DBAPIError) as failed:
            await connection.execute(
                f"DO $$ BEGIN RAISE EXCEPTION 'failed' USING ERRCODE = '{sqlstate}'; END $$"
            )
    return failed.value


async def test_a_deadlock_on_the_batch_connection_is_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert is_transient(await _fail_with(sessions, "40P01"))  # deadlock_detected


async def test_a_constraint_violation_on_the_batch_connection_is_not_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert not is_transient(await _fail_with(sessions, "23505"))  # unique_violation

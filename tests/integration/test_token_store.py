"""The API's cache of known tokens against real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import api_tokens
from leadpipe.shared.auth import Scope, TokenStore, issue_token, store_token

pytestmark = pytest.mark.integration


async def test_a_token_added_right_after_a_read_is_known_to_the_next_lookup_that_misses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, added = (issue_token(f"t-{uuid.uuid4().hex[:8]}", Scope.READ) for _ in range(2))
    async with sessions() as session, session.begin():
        await store_token(session, api_tokens, first)
    store = TokenStore(sessions, api_tokens, ttl_s=60.0, miss_ttl_s=0.5)
    assert first.digest in {known.digest for known in await store.known()}

    async with sessions() as session, session.begin():
        await store_token(session, api_tokens, added)

    # The cache holds for its minute; a lookup that missed waits for a read made after it.
    assert added.digest not in {known.digest for known in await store.known()}
    assert added.digest in {known.digest for known in await store.known(fresh=True)}

"""API tokens for the admin and read APIs.

A token is shown once when it is made and stored only as its SHA-256: tokens are 256 random
bits, so a fast hash is enough (a slow password hash protects guessable secrets, not these).
Each service keeps the hashes in its own schema and checks them with a constant-time compare.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from time import monotonic

from fastapi import HTTPException, Request
from sqlalchemy import Column, DateTime, MetaData, Table, Text, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TOKEN_PREFIX = "lpt_"


class Scope(StrEnum):
    READ = "read"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        return self == Scope.ADMIN or self == needed


@dataclass(frozen=True)
class IssuedToken:
    name: str
    scope: Scope
    token: str

    @property
    def digest(self) -> str:
        return token_digest(self.token)


@dataclass(frozen=True)
class KnownToken:
    name: str
    scope: Scope
    digest: str


def issue_token(name: str, scope: Scope) -> IssuedToken:
    return IssuedToken(name=name, scope=scope, token=TOKEN_PREFIX + secrets.token_urlsafe(32))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def match_token(presented: str, known: list[KnownToken]) -> KnownToken | None:
    """The known token ``presented`` is, compared in constant time against every candidate."""
    digest = token_digest(presented)
    found = None
    for candidate in known:
        if hmac.compare_digest(digest, candidate.digest):
            found = candidate
    return found


# Called with fresh=True after a miss, so that a token made a moment ago is found.
TokenLookup = Callable[[bool], Awaitable[list[KnownToken]]]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(
            401,
            detail={"field": "Authorization", "reason": "a Bearer token is required"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return value.strip()


def require(scope: Scope) -> Callable[[Request], Awaitable[KnownToken]]:
    """A FastAPI dependency: the request's token must exist and allow ``scope``. The app
    provides the tokens as ``app.state.known_tokens`` (a TokenLookup)."""

    async def check(request: Request) -> KnownToken:
        presented = bearer_token(request)
        lookup: TokenLookup = request.app.state.known_tokens
        token = match_token(presented, await lookup(False))
        if token is None:
            token = match_token(presented, await lookup(True))
        if token is None:
            raise HTTPException(
                401,
                detail={"field": "Authorization", "reason": "unknown or revoked token"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not token.scope.allows(scope):
            raise HTTPException(
                403,
                detail={"field": "Authorization", "reason": f"this token lacks the {scope} scope"},
            )
        return token

    return check


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_by_method() -> Callable[[Request], Awaitable[KnownToken]]:
    """Reading needs the read scope; anything that changes state (or runs on demand, such as
    a rules simulation) needs admin."""
    read, admin = require(Scope.READ), require(Scope.ADMIN)

    async def check(request: Request) -> KnownToken:
        return await (read if request.method in SAFE_METHODS else admin)(request)

    return check


def api_tokens_table(metadata: MetaData) -> Table:
    """The token digests in one service's schema."""
    return Table(
        "api_tokens",
        metadata,
        Column("name", Text, primary_key=True),
        Column("scope", Text, nullable=False),
        Column("digest", Text, nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class TokenStore:
    """Known tokens from the database without a query per request: re-read every ``ttl_s``
    seconds (a revoked token stops working within that). A token not in the cache waits for a
    read that starts after it was presented, so a token added a moment ago works; such reads
    run at most every ``miss_ttl_s``, however many unknown tokens arrive, so they cannot flood
    the database (an unknown token's 401 comes up to that much later)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        ttl_s: float = 5.0,
        miss_ttl_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._table = table
        self._ttl_s = ttl_s
        self._miss_ttl_s = miss_ttl_s
        self._cached: list[KnownToken] = []
        self._read_started = float("-inf")
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def known(self, fresh: bool = False) -> list[KnownToken]:
        """The known tokens; ``fresh``: as read after this call began."""
        asked_at = monotonic()
        if fresh:
            # Outside the lock: lookups of cached tokens never wait behind a miss.
            await asyncio.sleep(max(0.0, self._read_at + self._miss_ttl_s - asked_at))
        async with self._lock:
            if fresh and self._read_started >= asked_at:
                return self._cached  # another miss read meanwhile
            if not fresh and monotonic() - self._read_at < self._ttl_s:
                return self._cached
            self._read_started = monotonic()
            async with self._sessions() as session:
                rows = (await session.execute(select(self._table))).all()
            self._cached = [KnownToken(r.name, Scope(r.scope), r.digest) for r in rows]
            self._read_at = monotonic()
            return self._cached


async def store_token(session: AsyncSession, table: Table, token: IssuedToken) -> None:
    await session.execute(
        insert(table).values(name=token.name, scope=token.scope.value, digest=token.digest)
    )


async def revoke_token(session: AsyncSession, table: Table, name: str) -> bool:
    result = await session.execute(delete(table).where(table.c.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]

"""API tokens for the admin and read APIs.

A token is shown once when it is made and stored only as its SHA-256: tokens are 256 random
bits, so a fast hash is enough (a slow password hash protects guessable secrets, not these).
Each service keeps the hashes in its own schema and checks them with a constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException, Request

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


TokenLookup = Callable[[], Awaitable[list[KnownToken]]]


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
        token = match_token(presented, await lookup())
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

"""Idempotency keys scoped to what they were sent with.

A client that retries a form post with the same ``Idempotency-Key`` sends the same content,
and must get the same event (one event id), so that an attempt that reached Kafka before its
answer was lost is not applied twice. The same key with other content is not a retry: its
event id differs (the content is part of it, so no lead is ever dropped as a duplicate), and
while this instance remembers the key it answers 409, so that the client learns of its bug.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping

import orjson
from pydantic import JsonValue

from leadpipe.ingest.domain.refusals import Refusal

DAY_S = 86_400.0


class KeyReused(Refusal):
    status = 409
    code = "idempotency_key_reused"


def content_digest(fields: Mapping[str, JsonValue]) -> str:
    """The same for the same fields in any order (a client may serialise them anew)."""
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def scoped_key(key: str, digest: str) -> str:
    """What the event id is derived from: the key and the content together."""
    return f"{key}\n{digest}"


def body_scoped(key: str | None, body: bytes) -> str | None:
    """``key`` scoped to a raw request body (webhooks: the body is what was signed or sent)."""
    return scoped_key(key, hashlib.sha256(body).hexdigest()) if key else None


class RecentKeys:
    """The content each key was last used with, for ``keep_s`` and at most ``capacity`` keys
    (the oldest go first): memory stays bounded whatever clients send."""

    def __init__(self, keep_s: float = DAY_S, capacity: int = 100_000) -> None:
        self._keep_s = keep_s
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def claim(self, scope: str, key: str, digest: str, now_s: float) -> None:
        """Notes ``key`` (within ``scope``, e.g. the form) as used with ``digest``; refuses it
        when it was used with other content within ``keep_s``."""
        while self._seen:
            oldest, (_, seen_at) = next(iter(self._seen.items()))
            if now_s - seen_at < self._keep_s and len(self._seen) < self._capacity:
                break
            del self._seen[oldest]
        found = self._seen.get((scope, key))
        if found is not None and found[0] != digest:
            raise KeyReused("Idempotency-Key", "was already used with other content; use a new key")
        self._seen[(scope, key)] = (digest, now_s)
        self._seen.move_to_end((scope, key))

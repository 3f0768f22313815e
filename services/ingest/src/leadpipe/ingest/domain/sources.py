"""Registered sources and the in-memory registry ingest answers from (no database per request)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit


class SourceKind(StrEnum):
    """The built-in kinds, with routes of their own. Webhook kinds are the providers' (see
    ``leadpipe.ingest.domain.providers``)."""

    SEGMENT = "segment"
    FORM = "form"


def key_hash(key: str) -> str:
    """Write keys and tokens are 32 random bytes: a plain sha256 is enough to store them."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    key_hash: str | None = None
    # The HMAC secret in clear (decrypted at load): whsec_… or HubSpot's client secret.
    secret: str | None = None
    allowed_origins: frozenset[str] = frozenset()
    thank_you_url: str | None = None

    def accepts_token(self, token: str) -> bool:
        return self.key_hash is not None and hmac.compare_digest(self.key_hash, key_hash(token))

    @property
    def event_source(self) -> str:
        """The ``source`` written into every event this source sends."""
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class SourceRegistry:
    """A snapshot of the active sources; replaced as a whole on each refresh."""

    by_name: dict[str, Source] = field(default_factory=dict)
    by_key_hash: dict[str, Source] = field(default_factory=dict)

    @classmethod
    def of(cls, sources: Iterable[Source]) -> SourceRegistry:
        listed = list(sources)
        return cls(
            by_name={source.name: source for source in listed},
            by_key_hash={
                source.key_hash: source
                for source in listed
                if source.key_hash and source.kind == SourceKind.SEGMENT
            },
        )

    def by_write_key(self, write_key: str) -> Source | None:
        """Only Segment sources have write keys; a webhook token is no write key."""
        return self.by_key_hash.get(key_hash(write_key))

    def named(self, name: str, *kinds: str) -> Source | None:
        found = self.by_name.get(name)
        return found if found is not None and found.kind in kinds else None

    def knows(self, event_source: str) -> bool:
        """Whether ``event_source`` (``form:contact``) is an active source's."""
        found = self.by_name.get(event_source.partition(":")[2])
        return found is not None and found.event_source == event_source


def thank_you_url(url: str) -> str:
    """A form's thank-you page: an absolute http(s) URL, nothing a browser would run
    (``javascript:``, ``data:``) or resolve against the customer's page."""
    parsed = urlsplit(url.strip())
    if parsed.scheme.lower() not in {"http", "https"} or not parsed.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    return url.strip()

"""What the routers need, built once in main.py and kept on ``app.state.ingest``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from leadpipe.ingest.adapters.publisher import EventPublisher
from leadpipe.ingest.adapters.source_cache import SourceCache
from leadpipe.ingest.domain.idempotency import RecentKeys
from leadpipe.ingest.domain.rate_limit import RateLimiter
from leadpipe.ingest.domain.sources import Source


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ingest:
    publisher: EventPublisher
    sources: SourceCache
    limiter: RateLimiter
    public_base_url: str | None = None
    now: Callable[[], datetime] = utc_now
    keys: RecentKeys = field(default_factory=RecentKeys)

    def admit(self, request: Request, source: Source | str, events: int) -> None:
        """Notes the source on the request (for metrics) and spends its rate budget."""
        name = source.event_source if isinstance(source, Source) else source
        request.state.source = name
        self.limiter.take(name, events, now_s=time.monotonic())


def ingest_of(request: Request) -> Ingest:
    found: Ingest = request.app.state.ingest
    return found

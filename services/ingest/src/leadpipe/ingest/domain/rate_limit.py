"""Per-source token buckets: a source that floods ingest is slowed down, the others are not."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from leadpipe.ingest.domain.refusals import RateLimited


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    rate_per_s: float
    burst: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, source: str, events: int, *, now_s: float) -> None:
        """Spends ``events`` tokens of ``source``, or refuses with the seconds to wait."""
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(float(self.burst), now_s)
        bucket.tokens = min(
            float(self.burst), bucket.tokens + (now_s - bucket.at) * self.rate_per_s
        )
        bucket.at = now_s
        # A request larger than the burst passes on a full bucket and leaves it in debt.
        needed = min(events, self.burst)
        if needed <= bucket.tokens:
            bucket.tokens -= events
            return
        missing = needed - bucket.tokens
        raise RateLimited(max(1, math.ceil(missing / self.rate_per_s)))

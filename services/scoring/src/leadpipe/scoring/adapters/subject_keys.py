"""The data keys that open sealed inbound events, fetched from ingest's internal API and kept
in memory for a while.

A key is kept at most ``ttl_s``: after an erasure elsewhere (another scoring instance, or
`leadpipe erase` calling ingest), this instance stops opening the person's events within
that time at the latest; until then the suppression entries in PostgreSQL keep them out."""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Collection
from time import monotonic
from typing import Any

import httpx

from leadpipe.shared.privacy import service_token
from leadpipe.shared.settings import Settings

CACHED_SUBJECTS = 200_000
LOOKUP_BATCH = 1000


class KeyServiceUnavailable(ConnectionError):
    """ingest's key API did not answer: transient, the batch is retried (never dead-lettered
    for it)."""


class SubjectKeyClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ttl_s: float = 300.0,
        capacity: int = CACHED_SUBJECTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
            transport=transport,
        )
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._cached: OrderedDict[str, tuple[bytes | None, float]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> SubjectKeyClient:
        base = settings.ingest_url or f"http://{settings.host}:{settings.ingest_port}"
        return cls(base, service_token(settings))

    async def keys(self, subjects: Collection[str]) -> dict[str, bytes | None]:
        """Each subject's data key; None where it was shredded (or never existed)."""
        now = monotonic()
        found: dict[str, bytes | None] = {}
        missing = []
        for subject in subjects:
            hit = self._cached.get(subject)
            if hit is not None and now - hit[1] < self._ttl_s:
                found[subject] = hit[0]
            else:
                missing.append(subject)
        for start in range(0, len(missing), LOOKUP_BATCH):
            fetched = await self._post(":lookup", missing[start : start + LOOKUP_BATCH])
            keys: dict[str, str | None] = fetched["keys"]
            for subject in missing[start : start + LOOKUP_BATCH]:
                raw = keys.get(subject)
                key = base64.b64decode(raw) if raw else None
                self._remember(subject, key, now)
                found[subject] = key
        return found

    async def shred(self, subjects: Collection[str]) -> int:
        """Have ingest shred the subjects' keys; forgets them here at once."""
        shredded = 0
        ordered = sorted(subjects)
        for start in range(0, len(ordered), LOOKUP_BATCH):
            answer = await self._post(":erase", ordered[start : start + LOOKUP_BATCH])
            shredded += int(answer["shredded"])
        for subject in ordered:
            self._remember(subject, None, monotonic())
        return shredded

    async def close(self) -> None:
        await self._client.aclose()

    async def _post(self, action: str, subjects: list[str]) -> dict[str, Any]:
        try:
            response = await self._client.post(
                f"/v1/subject-keys{action}", json={"subjects": subjects}
            )
        except httpx.HTTPError as exc:
            raise KeyServiceUnavailable(f"ingest's key API is not reachable: {exc!r}") from exc
        if response.status_code != 200:
            # A 401 means the services do not share one key: retried too (the consumer shows
            # as stuck) rather than dead-lettering every event until it is fixed.
            raise KeyServiceUnavailable(
                f"ingest's key API answered {response.status_code}: {response.text[:200]}"
            )
        answer: dict[str, Any] = response.json()
        return answer

    def _remember(self, subject: str, key: bytes | None, now: float) -> None:
        self._cached[subject] = (key, now)
        self._cached.move_to_end(subject)
        while len(self._cached) > self._capacity:
            self._cached.popitem(last=False)

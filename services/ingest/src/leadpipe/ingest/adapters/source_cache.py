"""Ingest's in-memory copy of the source registry, reloaded every few seconds in the
background, so that requests never wait for PostgreSQL and new or revoked sources take
effect without a restart."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_store import all_sources, as_source
from leadpipe.ingest.domain.sources import SourceRegistry

log = logging.getLogger(__name__)


class SourceCache:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, refresh_s: float
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._refresh_s = refresh_s
        self.registry = SourceRegistry()
        self.loaded = False
        self._unreadable: set[str] = set()

    async def load(self) -> None:
        async with self._sessions() as session:
            rows = await all_sources(session)
        sources = []
        for row in rows:
            source = as_source(row, self._box)
            if source is None and row.revoked_at is None and row.name not in self._unreadable:
                # Once per source, not on every reload: the key is wrong or missing.
                self._unreadable.add(row.name)
                log.warning(
                    "source secret cannot be decrypted with LEADPIPE_SECRETS_KEY; "
                    "the source is refused",
                    extra={"source": row.name},
                )
            if source is not None:
                sources.append(source)
        self.registry = SourceRegistry.of(sources)
        self.loaded = True

    async def keep_fresh(self) -> None:
        """Runs until cancelled; a failed reload keeps serving the last known registry."""
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.load()
            except Exception as exc:
                log.warning("source reload failed", extra={"error": type(exc).__name__})

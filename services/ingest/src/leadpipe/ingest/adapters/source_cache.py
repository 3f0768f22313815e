"""Ingest's in-memory copy of the source registry, so that requests never wait for
PostgreSQL. It reloads the moment the source store announces a change (``NOTIFY`` in the
transaction that adds or revokes a source), and every few seconds anyway: a change announced
while the listening connection was down is caught up then."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_store import CHANGES_CHANNEL, all_sources, as_source
from leadpipe.ingest.domain.sources import SourceRegistry
from leadpipe.shared.periodic import run_every

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://…``) as asyncpg's own DSN."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class SourceCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        refresh_s: float,
        database_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._refresh_s = refresh_s
        # Without it, changes take effect at the next periodic reload only.
        self._listen_dsn = asyncpg_dsn(database_url) if database_url else None
        self._listener: asyncpg.Connection | None = None
        self._changed = asyncio.Event()
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

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    async def keep_fresh(self) -> None:
        """Runs until cancelled; a failed reload keeps serving the last known registry."""
        try:
            await run_every("source reload", self._refresh_s, self._reload, wake=self._changed)
        finally:
            if self._listener is not None:
                with suppress(Exception):
                    await self._listener.close(timeout=2)

    async def _reload(self) -> None:
        await self._listen()
        # Listening again announces a change, which this very load covers. Cleared before
        # reading: a change announced during the load loads again.
        self._changed.clear()
        try:
            await self.load()
        except Exception as exc:
            # A warning, not an error: the last known registry keeps serving.
            log.warning("source reload failed", extra={"error": type(exc).__name__})

    async def _listen(self) -> None:
        if self._listen_dsn is None or self.listening:
            return
        try:
            listener = await asyncpg.connect(self._listen_dsn, timeout=CONNECT_TIMEOUT_S)
            await listener.add_listener(CHANGES_CHANNEL, self._announced)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning(
                "cannot listen for source changes; reloading periodically only",
                extra={"error": type(exc).__name__},
            )
            return
        listener.add_termination_listener(self._lost)
        self._listener = listener
        # Changes made before this connection listened were announced to no one.
        self._changed.set()

    def _announced(self, connection: object, pid: int, channel: str, payload: object) -> None:
        self._changed.set()

    def _lost(self, connection: object) -> None:
        # Wakes the loop, which listens again on a new connection and reloads.
        self._changed.set()

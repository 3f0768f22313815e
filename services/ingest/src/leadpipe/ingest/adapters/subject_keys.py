"""The data keys that seal each subject's events, kept in PostgreSQL and in memory.

A key is made the first time a subject is published, and stored before its first event is
produced, so that a consumer never reads an event whose key does not exist yet. Two ingest
instances meeting a new subject at once agree on one key: each inserts its own candidate
with ON CONFLICT DO NOTHING, then both read back the one that won.

Look-ups of concurrent requests share one round trip: a subject not in memory joins the
round being gathered, and one round runs at a time."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.orm import SubjectKeyRow
from leadpipe.shared.sealing import new_data_key

# About 100 bytes a subject in memory; the busiest subjects stay, the others are read again.
CACHED_SUBJECTS = 200_000

# A subject's key, or None once it was shredded.
DataKey = bytes | None


class KeyStoreUnavailable(RuntimeError):
    pass


class SubjectKeys:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], capacity: int = CACHED_SUBJECTS
    ) -> None:
        self._sessions = sessions
        self._capacity = capacity
        self._cached: OrderedDict[str, DataKey] = OrderedDict()
        self._gathering: dict[str, asyncio.Future[DataKey]] = {}
        self._rounds: asyncio.Task[None] | None = None

    async def for_publishing(self, subjects: Collection[str]) -> dict[str, DataKey]:
        """Each subject's key, made and stored first where there is none; None for a subject
        whose key was shredded (its events are not to be published)."""
        found: dict[str, DataKey] = {}
        waiting: dict[str, asyncio.Future[DataKey]] = {}
        for subject in subjects:
            if subject in self._cached:
                self._cached.move_to_end(subject)
                found[subject] = self._cached[subject]
            else:
                waiting[subject] = self._join(subject)
        if waiting:
            # Shielded: a caller that gives up (its request timed out) leaves the round, and
            # the other callers waiting for the same subjects, to finish.
            keys = await asyncio.gather(*(asyncio.shield(f) for f in waiting.values()))
            found.update(zip(waiting, keys, strict=True))
        return found

    async def known(self, subjects: Collection[str]) -> dict[str, DataKey]:
        """The stored key of each subject, without making any: None where there is none."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(SubjectKeyRow.subject, SubjectKeyRow.data_key).where(
                    SubjectKeyRow.subject.in_(list(subjects))
                )
            )
            stored = {subject: key for subject, key in rows}
        return {subject: stored.get(subject) for subject in subjects}

    async def shred(self, subjects: Collection[str], now: datetime | None = None) -> int:
        """Delete the subjects' keys, leaving tombstones (also for subjects never seen, so
        that their first event later is not published either). Returns how many keys went."""
        now = now or datetime.now(UTC)
        if not subjects:
            return 0
        async with self._sessions() as session, session.begin():
            had_key = await session.scalars(
                select(SubjectKeyRow.subject).where(
                    SubjectKeyRow.subject.in_(list(subjects)), SubjectKeyRow.data_key.is_not(None)
                )
            )
            shredded = len(list(had_key))
            statement = pg_insert(SubjectKeyRow).values(
                [{"subject": s, "data_key": None, "erased_at": now} for s in sorted(subjects)]
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["subject"], set_={"data_key": None, "erased_at": now}
                )
            )
        for subject in subjects:
            self._remember(subject, None)
        return shredded

    def _join(self, subject: str) -> asyncio.Future[DataKey]:
        future = self._gathering.get(subject)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._gathering[subject] = future
        if self._rounds is None:
            self._rounds = asyncio.create_task(self._run_rounds(), name="subject-keys")
        return future

    async def _run_rounds(self) -> None:
        try:
            await asyncio.sleep(0)  # let the requests under way now join the first round
            while self._gathering:
                round_, self._gathering = self._gathering, {}
                try:
                    keys = await self._make_or_read(round_)
                except Exception as exc:
                    # Named, not repeated: the database's message would carry the statement's
                    # parameters, the new data keys among them, into the refusal's log line.
                    failure = KeyStoreUnavailable(
                        f"subject keys could not be stored or read ({type(exc).__name__})"
                    )
                    for future in round_.values():
                        if not future.done():
                            future.set_exception(failure)
                    continue
                for subject, future in round_.items():
                    key = keys.get(subject)
                    self._remember(subject, key)
                    if not future.done():
                        future.set_result(key)
        finally:
            self._rounds = None

    async def _make_or_read(self, subjects: Iterable[str]) -> dict[str, DataKey]:
        wanted = sorted(subjects)  # one lock order for every instance
        async with self._sessions() as session:
            async with session.begin():
                await session.execute(
                    pg_insert(SubjectKeyRow)
                    .values([{"subject": s, "data_key": new_data_key()} for s in wanted])
                    .on_conflict_do_nothing(index_elements=["subject"])
                )
            # A statement of its own, after the commit: it sees a key another instance made
            # meanwhile (its insert waited for that one and then did nothing).
            rows = await session.execute(
                select(SubjectKeyRow.subject, SubjectKeyRow.data_key).where(
                    SubjectKeyRow.subject.in_(wanted)
                )
            )
            return {subject: key for subject, key in rows}

    def _remember(self, subject: str, key: DataKey) -> None:
        self._cached[subject] = key
        self._cached.move_to_end(subject)
        while len(self._cached) > self._capacity:
            self._cached.popitem(last=False)

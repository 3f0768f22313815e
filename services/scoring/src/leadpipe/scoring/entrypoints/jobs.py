"""Scoring's background jobs: the recycling sweeper and the pruning of old event history,
each a loop of :func:`leadpipe.shared.periodic.run_every` around a use case in one
transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from leadpipe.scoring.service.erasure import prune_event_history
from leadpipe.scoring.service.recycling import recycle_due
from leadpipe.shared.periodic import run_every
from leadpipe.shared.runtime import BackgroundJob, ConsumerRuntime
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)


class Recycler:
    """Sweeps every ``interval_s`` (at once again while a sweep was full)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: RulesCache,
        topics: Topics,
        on_commit: Callable[[], None],
        *,
        interval_s: float = 30.0,
        limit: int = 500,
    ) -> None:
        self._sessions = sessions
        self._rules = rules
        self._topics = topics
        self._on_commit = on_commit
        self._interval_s = interval_s
        self._limit = limit

    async def sweep(self) -> int:
        async with self._sessions() as session, session.begin():
            rules = await self._rules.active(session)
            now = datetime.now(UTC)
            uow = await PostgresScoringUnitOfWork.open(session, self._topics, now, rules)
            swept = await recycle_due(uow, rules, now, limit=self._limit)
        if swept:
            self._on_commit()
        return swept

    async def run(self) -> None:
        await run_every("recycling sweep", self._interval_s, self._sweep_round)

    async def _sweep_round(self) -> bool:
        """One sweep; True when it was full: more leads are due at once."""
        return await self.sweep() >= self._limit


async def prune_forever(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    retention: timedelta,
    interval_s: float = 3600.0,
) -> None:
    """Apply the retention setting once an hour, for as long as the service runs."""

    async def prune() -> None:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            uow = await PostgresScoringUnitOfWork.open(session, topics, now)
            pruned = await prune_event_history(uow, now - retention)
        if pruned:
            log.info("old event history pruned", extra={"events": pruned})

    await run_every("pruning event history", interval_s, prune)


def scoring_jobs(rules: RulesCache, topics: Topics, retention: timedelta) -> list[BackgroundJob]:
    """Besides the consume loop and the relay: the sweeper that recycles decayed MQLs and the
    pruning of old event history."""

    def recycling(runtime: ConsumerRuntime) -> Coroutine[Any, Any, None]:
        return Recycler(runtime.sessions, rules, topics, runtime.relay.wake).run()

    def event_retention(runtime: ConsumerRuntime) -> Coroutine[Any, Any, None]:
        return prune_forever(runtime.sessions, topics, retention)

    return [BackgroundJob("recycler", recycling), BackgroundJob("retention", event_retention)]

"""Routing's background jobs besides the consume loop and the relay: the routing clock, which
finds due SLA timers and queued leads and acts on them (:mod:`leadpipe.routing.service.sweeps`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.unit_of_work import PostgresRoutingUnitOfWork
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.sweeps import assign_queued, breach_due_slas
from leadpipe.shared.periodic import run_every
from leadpipe.shared.runtime import BackgroundJob, ConsumerRuntime


class RoutingClock:
    """Ticks every ``interval_s``; each tick is its own transaction, so a failure loses
    nothing (the rows are still there for the next tick)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: RoutingConfig,
        on_commit: Callable[[], None],
        clock: Callable[[], datetime],
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._on_commit = on_commit
        self._clock = clock
        self._interval_s = interval_s

    async def tick(self) -> tuple[int, int]:
        """(SLA breaches handled, queued leads assigned)."""
        async with self._sessions() as session, session.begin():
            uow = await PostgresRoutingUnitOfWork.of(session)
            breached = await breach_due_slas(uow, self._config, self._clock())
        async with self._sessions() as session, session.begin():
            uow = await PostgresRoutingUnitOfWork.of(session)
            assigned = await assign_queued(uow, self._config, self._clock())
        if breached or assigned:
            self._on_commit()
        return breached, assigned

    async def run(self) -> None:
        await run_every("routing clock tick", self._interval_s, self._tick)

    async def _tick(self) -> None:
        await self.tick()


def routing_jobs(
    config: RoutingConfig, clock: Callable[[], datetime], *, interval_s: float
) -> list[BackgroundJob]:
    """Besides the consume loop and the relay: SLA breaches and the fallback queue."""

    def routing_clock(runtime: ConsumerRuntime) -> Coroutine[Any, Any, None]:
        return RoutingClock(
            runtime.sessions, config, runtime.relay.wake, clock, interval_s=interval_s
        ).run()

    return [BackgroundJob("routing-clock", routing_clock)]

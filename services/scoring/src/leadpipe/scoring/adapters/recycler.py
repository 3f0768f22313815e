"""The sweeper that recycles MQLs to nurture when their computed moment has come.

It reads only leads whose ``recycle_at`` has passed, through a partial index: the cost follows
the number of leads due, not the number of leads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.batch import BatchWrites
from leadpipe.scoring.adapters.lead_record import lock_due
from leadpipe.scoring.adapters.lead_state import state_of, store_state
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.domain.lead import Outcome
from leadpipe.scoring.domain.lifecycle import TransitionRefused
from leadpipe.scoring.domain.recycling import recycle
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.bulk import Connection
from leadpipe.shared.periodic import run_every
from leadpipe.shared.topics import Topics


async def recycle_due(
    session: AsyncSession, rules: Rules, topics: Topics, now: datetime, *, limit: int = 500
) -> int:
    """Recycle up to ``limit`` leads due at ``now``, in the caller's transaction. Returns how
    many leads were looked at (due ones whose new activity came first are re-timed instead).
    Several scoring instances may sweep at once: locked leads are skipped, not waited for."""
    due = await lock_due(await Connection.of(session), now, limit)
    batch = BatchWrites(rules, topics, now)
    for lead in due:
        state, step = recycle(state_of(lead), rules, now)
        store_state(lead, state, rules, now)
        batch.changed(lead)
        cause = f"recycle:{lead.id}:{now.isoformat()}"
        if isinstance(step, TransitionRefused):
            batch.outcome(lead, cause, Outcome(state, (), (), (step,)))
        elif step is not None:
            batch.outcome(lead, cause, Outcome(state, (), (step,), ()))
    await batch.write(session)
    return len(due)


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
            swept = await recycle_due(
                session, rules, self._topics, datetime.now(UTC), limit=self._limit
            )
        if swept:
            self._on_commit()
        return swept

    async def run(self) -> None:
        await run_every("recycling sweep", self._interval_s, self._sweep_round)

    async def _sweep_round(self) -> bool:
        """One sweep; True when it was full: more leads are due at once."""
        return await self.sweep() >= self._limit

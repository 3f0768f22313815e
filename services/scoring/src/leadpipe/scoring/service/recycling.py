"""Recycling MQLs to nurture when their computed moment has come.

It reads only leads whose ``recycle_at`` has passed, through a partial index: the cost follows
the number of leads due, not the number of leads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.lead_record import lock_due
from leadpipe.scoring.adapters.lead_state import state_of, store_state
from leadpipe.scoring.adapters.unit_of_work import BatchWrites
from leadpipe.scoring.domain.lead import Outcome
from leadpipe.scoring.domain.lifecycle import TransitionRefused
from leadpipe.scoring.domain.recycling import recycle
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.bulk import Connection
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

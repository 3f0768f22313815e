"""Recycling MQLs to nurture when their computed moment has come.

It reads only leads whose ``recycle_at`` has passed (the unit of work finds them through a
partial index): the cost follows the number of leads due, not the number of leads.
"""

from __future__ import annotations

from datetime import datetime

from leadpipe.scoring.domain.lead import Outcome
from leadpipe.scoring.domain.lead_record import state_of, store_state
from leadpipe.scoring.domain.lifecycle import TransitionRefused
from leadpipe.scoring.domain.recycling import recycle
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.service.unit_of_work import ScoringUnitOfWork


async def recycle_due(
    uow: ScoringUnitOfWork, rules: Rules, now: datetime, *, limit: int = 500
) -> int:
    """Recycle up to ``limit`` leads due at ``now``, in the caller's transaction. Returns how
    many leads were looked at (due ones whose new activity came first are re-timed instead).
    Several scoring instances may sweep at once: locked leads are skipped, not waited for."""
    due = await uow.lock_due(now, limit)
    for lead in due:
        state, step = recycle(state_of(lead), rules, now)
        store_state(lead, state, rules, now)
        uow.changed(lead)
        cause = f"recycle:{lead.id}:{now.isoformat()}"
        if isinstance(step, TransitionRefused):
            uow.outcome(lead, cause, Outcome(state, (), (), (step,)))
        elif step is not None:
            uow.outcome(lead, cause, Outcome(state, (), (step,), ()))
    await uow.write()
    return len(due)

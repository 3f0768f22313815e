"""Runs a what-if over the stored event history, streaming one lead at a time."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.orm import InboundEventRow, LeadRow
from leadpipe.scoring.api.schemas import StageShift, WhatIfReport
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.domain.whatif import replay
from leadpipe.shared.events import InboundEvent

Progress = Callable[[int, int], None]
CHUNK = 500


async def what_if(
    session: AsyncSession,
    draft: Rules,
    *,
    progress: Progress | None = None,
    max_listed: int = 500,
) -> WhatIfReport:
    """Replay every lead's stored events under ``draft`` and compare with the live stage.
    Reads only; ``progress(done, total)`` is called after each chunk of leads."""
    leads = (
        await session.execute(
            select(LeadRow.id, LeadRow.email, LeadRow.stage)
            .where(LeadRow.merged_into.is_(None))
            .order_by(LeadRow.id)
        )
    ).all()
    by_stage: Counter[str] = Counter()
    shifts: list[StageShift] = []
    done = changed = 0
    for start in range(0, len(leads), CHUNK):
        chunk = leads[start : start + CHUNK]
        history: dict[str, list[InboundEvent]] = defaultdict(list)
        rows = await session.execute(
            select(InboundEventRow.lead_id, InboundEventRow.payload)
            .where(InboundEventRow.lead_id.in_([lead_id for lead_id, _, _ in chunk]))
            .order_by(InboundEventRow.lead_id, InboundEventRow.occurred_at, InboundEventRow.seq)
        )
        for lead_id, payload in rows:
            history[lead_id].append(InboundEvent.model_validate(payload))
        for lead_id, email, live_stage in chunk:
            replayed = replay(history[lead_id], draft)
            stage = replayed.state.stage.value if replayed.state.stage else live_stage
            if stage != live_stage:
                changed += 1
                by_stage[f"{live_stage} → {stage}"] += 1
                if len(shifts) < max_listed:
                    shifts.append(
                        StageShift(
                            lead_id=lead_id,
                            email=email,
                            from_stage=live_stage,
                            to_stage=stage,
                            why=replayed.why,
                        )
                    )
            done += 1
        if progress is not None:
            progress(done, len(leads))
    return WhatIfReport(
        draft_version=draft.version,
        leads=done,
        changed=changed,
        by_stage=dict(by_stage),
        shifts=shifts,
    )

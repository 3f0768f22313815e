"""Runs a what-if over the stored event history, streaming one lead at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.lead_record import LEADS
from leadpipe.scoring.adapters.orm import InboundEventRow
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.domain.whatif import replay
from leadpipe.scoring.service.views import StageShift, WhatIfReport
from leadpipe.shared.bulk import Connection, table_of
from leadpipe.shared.events import InboundEvent

Progress = Callable[[int, int], None]
CHUNK = 500  # leads between two progress reports
PREFETCH = 2000  # rows the cursor fetches per round trip

COUNT = f"SELECT count(*) FROM {LEADS.fullname} WHERE merged_into IS NULL"
# Every live lead with its events in replay order, as one stream: a merge of two index
# scans, so memory holds one lead's history, not the table's. The payload comes as text and
# is parsed once, by the model, instead of into a dict first and then into the model.
HISTORIES = (
    f"SELECT l.id, l.email, l.stage, e.payload::TEXT FROM {LEADS.fullname} l"
    f" LEFT JOIN {table_of(InboundEventRow).fullname} e ON e.lead_id = l.id"
    " WHERE l.merged_into IS NULL ORDER BY l.id, e.occurred_at, e.seq"
)


class _Tally:
    def __init__(self, max_listed: int) -> None:
        self.by_stage: Counter[str] = Counter()
        self.shifts: list[StageShift] = []
        self.leads = 0
        self.changed = 0
        self._max_listed = max_listed

    def lead(
        self,
        lead_id: str,
        email: str | None,
        live_stage: str,
        events: list[InboundEvent],
        draft: Rules,
    ) -> None:
        replayed = replay(events, draft)
        stage = replayed.state.stage.value if replayed.state.stage else live_stage
        self.leads += 1
        if stage == live_stage:
            return
        self.changed += 1
        self.by_stage[f"{live_stage} → {stage}"] += 1
        if len(self.shifts) < self._max_listed:
            self.shifts.append(
                StageShift(
                    lead_id=lead_id,
                    email=email,
                    from_stage=live_stage,
                    to_stage=stage,
                    why=replayed.why,
                )
            )


async def what_if(
    session: AsyncSession,
    draft: Rules,
    *,
    progress: Progress | None = None,
    max_listed: int = 500,
) -> WhatIfReport:
    """Replay every lead's stored events under ``draft`` and compare with the live stage.
    Reads only, and must run inside the caller's transaction (the stream is a cursor);
    ``progress(done, total)`` is called after each chunk of leads."""
    connection = await Connection.of(session)
    total = int(await connection.fetchval(COUNT))
    tally = _Tally(max_listed)
    current: tuple[str, str | None, str] | None = None
    events: list[InboundEvent] = []
    async for lead_id, email, stage, payload in connection.cursor(HISTORIES, prefetch=PREFETCH):
        if current is None or current[0] != lead_id:
            if current is not None:
                tally.lead(*current, events, draft)
                if progress is not None and tally.leads % CHUNK == 0:
                    progress(tally.leads, total)
            current, events = (lead_id, email, stage), []
        if payload is not None:
            events.append(InboundEvent.model_validate_json(payload))
    if current is not None:
        tally.lead(*current, events, draft)
    if progress is not None:
        progress(tally.leads, max(total, tally.leads))
    return WhatIfReport(
        draft_version=draft.version,
        leads=tally.leads,
        changed=tally.changed,
        by_stage=dict(tally.by_stage),
        shifts=tally.shifts,
    )

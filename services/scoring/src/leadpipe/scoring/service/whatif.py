"""Runs a what-if over the stored event history, streaming one lead at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.domain.whatif import replay
from leadpipe.scoring.service.views import StageShift, WhatIfReport
from leadpipe.shared.events import InboundEvent

Progress = Callable[[int, int], None]
CHUNK = 500  # leads between two progress reports
# A live lead's id, email and stage, and one of its stored events as JSON text (None for a
# lead without any), leads in id order and each lead's events in replay order.
HistoryRow = tuple[str, str | None, str, str | None]


class LeadHistories(Protocol):
    async def count(self) -> int:
        """How many live leads there are."""
        ...

    def rows(self) -> AsyncIterator[HistoryRow]: ...


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
    histories: LeadHistories,
    draft: Rules,
    *,
    progress: Progress | None = None,
    max_listed: int = 500,
) -> WhatIfReport:
    """Replay every lead's stored events under ``draft`` and compare with the live stage.
    ``progress(done, total)`` is called after each chunk of leads."""
    total = await histories.count()
    tally = _Tally(max_listed)
    current: tuple[str, str | None, str] | None = None
    events: list[InboundEvent] = []
    async for lead_id, email, stage, payload in histories.rows():
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

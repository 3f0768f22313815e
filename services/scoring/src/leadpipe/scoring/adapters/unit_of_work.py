"""What one batch writes, collected so that each table gets one set-based statement."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.lead_record import COLUMNS, LEADS, UPDATED, LeadRecord, RowValues
from leadpipe.scoring.adapters.lead_state import state_of, store_state
from leadpipe.scoring.adapters.orm import (
    AccountRow,
    InboundEventRow,
    ScoreChangeRow,
    StageChangeRow,
    outbox,
)
from leadpipe.scoring.adapters.stage_events import StageEvents, snapshot_of
from leadpipe.scoring.domain.lead import LeadState, Outcome, ScoreChange
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.bulk import (
    Connection,
    columns_of,
    insert_rows,
    table_of,
    update_rows,
)
from leadpipe.shared.outbox import OUTBOX_COLUMNS, OutboxRow
from leadpipe.shared.topics import Topics

SCORE_CHANGES = ("lead_id", "event_id", "component", "code", "delta", "reason", "rules_version")
STAGE_CHANGES = ("lead_id", "event_id", "from_stage", "to_stage", "reason", "refused")
INBOUND = ("event_id", "lead_id", "occurred_at", "payload")
ACCOUNTS = table_of(AccountRow)

SCORE_CHANGE_TABLE = table_of(ScoreChangeRow)
STAGE_CHANGE_TABLE = table_of(StageChangeRow)
INBOUND_TABLE = table_of(InboundEventRow)
UPDATE_LEADS = update_rows(LEADS, "id", UPDATED[1:])
MOVE_INBOUND = (
    f"UPDATE {INBOUND_TABLE.fullname} AS e SET lead_id = m.new"
    " FROM unnest($1::TEXT[], $2::TEXT[]) AS m(old, new) WHERE e.lead_id = m.old"
)
UPSERT_ACCOUNTS = insert_rows(
    ACCOUNTS,
    ("domain", "name", "traits", "updated_at"),
    "ON CONFLICT (domain) DO UPDATE SET"
    f" name = coalesce(EXCLUDED.name, {ACCOUNTS.name}.name),"
    f" traits = {ACCOUNTS.name}.traits || EXCLUDED.traits,"
    " updated_at = EXCLUDED.updated_at",
)
_inserted = RowValues(COLUMNS)
_updated = RowValues(UPDATED)


@dataclass
class _Appended:
    """Rows that are only ever added, in the order they reach PostgreSQL: leads first, the
    rows that refer to them after."""

    new_leads: list[LeadRecord] = field(default_factory=list)
    score_changes: list[tuple[object, ...]] = field(default_factory=list)
    stage_changes: list[tuple[object, ...]] = field(default_factory=list)
    outbox_rows: list[OutboxRow] = field(default_factory=list)
    inbound: list[tuple[str, str, datetime, str]] = field(default_factory=list)

    async def append_to(self, connection: Connection) -> None:
        for table, names, rows in (
            (LEADS, COLUMNS, [_inserted(lead) for lead in self.new_leads]),
            (SCORE_CHANGE_TABLE, SCORE_CHANGES, self.score_changes),
            (STAGE_CHANGE_TABLE, STAGE_CHANGES, self.stage_changes),
            (outbox, OUTBOX_COLUMNS, self.outbox_rows),
            (INBOUND_TABLE, INBOUND, self.inbound),
        ):
            if rows:
                await connection.copy(table, names, rows)


@dataclass
class BatchWrites:
    """What one batch writes: appended rows in a few large statements per table, leads that
    changed in one update, all inside the caller's transaction.

    A consumer hands rows over while it still folds later events (:meth:`hand_over`):
    PostgreSQL appends them meanwhile, on its own core."""

    rules: Rules
    topics: Topics
    now: datetime
    changed_leads: dict[str, LeadRecord] = field(default_factory=dict)
    accounts: dict[str, str | None] = field(default_factory=dict)
    account_traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    moved_events: dict[str, str] = field(default_factory=dict)
    _pending: _Appended = field(default_factory=_Appended)
    _unwritten_new: set[str] = field(default_factory=set)
    _appending: asyncio.Task[None] | None = None
    _stage_events: StageEvents = field(init=False)
    # Each lead's state as the batch's events left it, and the leads whose row lags behind
    # it: a row is written from its state once (before a move's snapshot, before it is handed
    # over, at the end), not after every event of a lead that sends many.
    _held: dict[str, LeadState] = field(default_factory=dict)
    _behind: dict[str, LeadRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stage_events = StageEvents(self.topics.stage_changed, self.now)

    def state(self, lead: LeadRecord, *, new: bool = False) -> LeadState:
        """The lead's state: as held by this batch, else read from its row. A ``new`` lead has
        no stage yet."""
        if new:
            return state_of(lead, new=True)
        held = self._held.get(lead.id)
        return held if held is not None else state_of(lead)

    def hold(self, lead: LeadRecord, state: LeadState) -> None:
        """The lead's state from now on; its row follows before anything reads or writes it."""
        self._held[lead.id] = state
        self._behind[lead.id] = lead
        self.changed(lead)

    def _catch_up(self, lead: LeadRecord) -> None:
        if self._behind.pop(lead.id, None) is not None:
            store_state(lead, self._held[lead.id], self.rules, self.now)

    def _catch_up_all(self, leads: Iterable[str]) -> None:
        for lead_id in [i for i in leads if i in self._behind]:
            self._catch_up(self._behind[lead_id])

    def changes(self, lead: LeadRecord, event_id: str, changes: Sequence[ScoreChange]) -> None:
        version = self.rules.version
        self._pending.score_changes.extend(
            (lead.id, event_id, c.component, c.code, c.delta, c.reason, version) for c in changes
        )

    def outcome(self, lead: LeadRecord, cause_event_id: str, outcome: Outcome) -> None:
        self.changes(lead, cause_event_id, outcome.changes)
        stage_changes = self._pending.stage_changes
        for refusal in outcome.refused:
            from_stage = refusal.from_stage.value if refusal.from_stage else None
            stage_changes.append(
                (lead.id, cause_event_id, from_stage, refusal.to_stage.value, refusal.why, True)
            )
        if not outcome.moves:
            return
        self._catch_up(lead)
        lead_now = snapshot_of(lead)  # the lead after the event, in each move it caused
        for move in outcome.moves:
            from_stage = move.from_stage.value if move.from_stage else None
            stage_changes.append(
                (lead.id, cause_event_id, from_stage, move.to_stage.value, move.reason, False)
            )
            self._pending.outbox_rows.append(
                self._stage_events.row(lead, lead_now, move, cause_event_id)
            )

    def applied(self, event_id: str, lead_id: str, occurred_at: datetime, payload: str) -> None:
        """An inbound event, kept for what-if replays."""
        self._pending.inbound.append((event_id, lead_id, occurred_at, payload))

    def created(self, lead: LeadRecord) -> None:
        """A lead this batch inserts."""
        self._pending.new_leads.append(lead)
        self._unwritten_new.add(lead.id)

    def changed(self, lead: LeadRecord) -> None:
        """Mark a lead for the batch's one update (a new lead only once it was appended)."""
        if lead.id not in self._unwritten_new:
            self.changed_leads[lead.id] = lead

    async def hand_over(self, connection: Connection, *, at_least: int) -> None:
        """Between events: when the connection is idle and rows of ``at_least`` events wait,
        start appending them; then give the event loop a turn, so that an append under way
        can send its next statement while the caller folds the next events."""
        if len(self._pending.inbound) >= at_least and (
            self._appending is None or self._appending.done()
        ):
            if self._appending is not None:
                self._appending.result()  # a failed append fails the batch here
            self._catch_up_all(self._unwritten_new)
            self._appending = asyncio.create_task(self._take().append_to(connection))
        await asyncio.sleep(0)

    async def abandon(self) -> None:
        """After a failure: wait for an append under way, which holds the connection the
        rollback needs; its own error, if any, is the caller's failure's consequence."""
        if self._appending is not None:
            with contextlib.suppress(Exception):
                await self._appending

    async def write(self, session: AsyncSession) -> None:
        """Everything not written yet, in the caller's transaction."""
        connection = await Connection.of(session)
        if self._appending is not None:
            await self._appending
        self._catch_up_all(list(self._behind))
        await self._take().append_to(connection)
        if self.changed_leads:
            await connection.execute(
                UPDATE_LEADS, *columns_of([_updated(lead) for lead in self.changed_leads.values()])
            )
        if self.moved_events:
            # After every inbound row of the batch is in: a visitor's events from earlier in
            # the batch move to the lead it merged into as well.
            moved = self.moved_events
            await connection.execute(MOVE_INBOUND, list(moved), list(moved.values()))
        if self.accounts:
            await connection.execute(UPSERT_ACCOUNTS, *columns_of(_account_rows(self)))

    def _take(self) -> _Appended:
        taken, self._pending = self._pending, _Appended()
        self._unwritten_new.clear()
        return taken


def _account_rows(batch: BatchWrites) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for domain, name in sorted(batch.accounts.items()):  # one lock order for all consumers
        traits = batch.account_traits.get(domain, {})
        rows.append((domain, traits.get("name") or name, orjson.dumps(traits).decode(), batch.now))
    return rows

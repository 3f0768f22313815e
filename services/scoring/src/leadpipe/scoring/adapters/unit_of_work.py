"""Scoring's unit of work on PostgreSQL (:class:`PostgresScoringUnitOfWork`): what a batch or a
job reads, with one statement per lookup, and what it writes, collected so that each table
gets one set-based statement."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.lead_record import (
    COLUMNS,
    LEADS,
    UPDATED,
    RowValues,
    lock_by_id,
    lock_due,
    lock_leads,
)
from leadpipe.scoring.adapters.orm import (
    AccountRow,
    ErasureReceiptRow,
    InboundEventRow,
    LeadRow,
    ProcessedEventRow,
    ScoreChangeRow,
    StageChangeRow,
    SuppressionRow,
    outbox,
)
from leadpipe.scoring.adapters.stage_events import SOURCE, StageEvents, snapshot_of
from leadpipe.scoring.domain.lead import LeadState, Outcome, ScoreChange
from leadpipe.scoring.domain.lead_record import LeadRecord, state_of, store_state
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.service.unit_of_work import ErasureReceipt
from leadpipe.shared.bookkeeping import mark_processed
from leadpipe.shared.bulk import (
    Connection,
    columns_of,
    insert_rows,
    table_of,
    update_rows,
)
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import WireModel
from leadpipe.shared.outbox import OUTBOX_COLUMNS, OutboxRow, enqueue
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)

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
MARK_PROCESSED = mark_processed(table_of(ProcessedEventRow))
SUPPRESSED = (
    f"SELECT subject_hash FROM {table_of(SuppressionRow).fullname}"
    " WHERE subject_hash = ANY($1::TEXT[])"
)
PERSONAL_COLUMNS = (
    "email",
    "anonymous_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "account_domain",
    "merged_into",
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
class PostgresScoringUnitOfWork:
    """One transaction's reads and writes, inside the caller's transaction: appended rows in a
    few large statements per table, leads that changed in one update.

    A consumer hands rows over while it still folds later events (:meth:`hand_over`):
    PostgreSQL appends them meanwhile, on its own core."""

    session: AsyncSession
    connection: Connection
    topics: Topics
    now: datetime
    # What scores the leads; None for a unit of work that only erases or prunes.
    rules: Rules | None = None
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

    @classmethod
    async def open(
        cls, session: AsyncSession, topics: Topics, now: datetime, rules: Rules | None = None
    ) -> PostgresScoringUnitOfWork:
        """The unit of work of ``session``'s transaction, which the caller opened."""
        return cls(session, await Connection.of(session), topics, now, rules)

    def _rules(self) -> Rules:
        if self.rules is None:
            raise RuntimeError("this unit of work was opened without rules: it cannot score")
        return self.rules

    async def fresh(self, event_ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self.connection.fetch(MARK_PROCESSED, list(event_ids))}

    async def suppressed(self, hashes: Collection[str]) -> set[str]:
        return {digest for (digest,) in await self.connection.fetch(SUPPRESSED, list(hashes))}

    async def lock_leads(
        self, keys: Collection[str], emails: Collection[str], anonymous: Collection[str]
    ) -> list[LeadRecord]:
        return await lock_leads(self.connection, keys, emails, anonymous)

    async def lock_by_id(self, ids: Collection[str]) -> list[LeadRecord]:
        return await lock_by_id(self.connection, ids)

    async def lock_due(self, now: datetime, limit: int) -> list[LeadRecord]:
        return await lock_due(self.connection, now, limit)

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
            store_state(lead, self._held[lead.id], self._rules(), self.now)

    def _catch_up_all(self, leads: Iterable[str]) -> None:
        for lead_id in [i for i in leads if i in self._behind]:
            self._catch_up(self._behind[lead_id])

    def changes(self, lead: LeadRecord, event_id: str, changes: Sequence[ScoreChange]) -> None:
        version = self._rules().version
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

    async def hand_over(self, *, at_least: int) -> None:
        """Between events: when the connection is idle and rows of ``at_least`` events wait,
        start appending them; then give the event loop a turn, so that an append under way
        can send its next statement while the caller folds the next events."""
        if len(self._pending.inbound) >= at_least and (
            self._appending is None or self._appending.done()
        ):
            if self._appending is not None:
                self._appending.result()  # a failed append fails the batch here
            self._catch_up_all(self._unwritten_new)
            self._appending = asyncio.create_task(self._take().append_to(self.connection))
        await asyncio.sleep(0)

    async def abandon(self) -> None:
        """After a failure: wait for an append under way, which holds the connection the
        rollback needs; its own error, if any, is the caller's failure's consequence."""
        if self._appending is not None:
            with contextlib.suppress(Exception):
                await self._appending

    async def write(self) -> None:
        """Everything not written yet, in the caller's transaction."""
        connection = self.connection
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

    async def emit(self, topic: str, key: str, event: WireModel) -> None:
        await enqueue(self.session, outbox, topic, key, wrap(event, SOURCE))

    async def leads_of_person(self, email: str) -> list[LeadRecord]:
        session = self.session
        rows = (
            (await session.execute(select(LeadRow).where(LeadRow.email == email).with_for_update()))
            .scalars()
            .all()
        )
        ids = [row.id for row in rows]
        if ids:
            merged = await session.scalars(select(LeadRow).where(LeadRow.merged_into.in_(ids)))
            rows = [*rows, *merged]
        return [LeadRecord(*(getattr(row, name) for name in COLUMNS)) for row in rows]

    async def stored_events(self, lead_ids: Collection[str]) -> list[Any]:
        payloads = await self.session.scalars(
            select(InboundEventRow.payload).where(InboundEventRow.lead_id.in_(list(lead_ids)))
        )
        return list(payloads)

    async def remove_history(
        self, lead_ids: Collection[str], record_keys: Collection[str]
    ) -> dict[str, int]:
        ids, keys = list(lead_ids), list(record_keys)
        counts: dict[str, int] = {}
        for name, statement in (
            ("score_changes", delete(ScoreChangeRow).where(ScoreChangeRow.lead_id.in_(ids))),
            ("stage_changes", delete(StageChangeRow).where(StageChangeRow.lead_id.in_(ids))),
            ("inbound_events", delete(InboundEventRow).where(InboundEventRow.lead_id.in_(ids))),
            ("outbox", delete(outbox).where(outbox.c.key.in_(keys))),
        ):
            result = await self.session.execute(statement)
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        return counts

    async def anonymise(self, lead_ids: Collection[str]) -> None:
        await self.session.execute(
            update(LeadRow)
            .where(LeadRow.id.in_(list(lead_ids)))
            .values(
                {column: None for column in PERSONAL_COLUMNS}
                | {"lead_key": "erased:" + LeadRow.id, "profile": {}, "answers": {}, "consents": []}
            )
        )

    async def drop_unused_accounts(self, domains: Collection[str]) -> int:
        still_used = await self.session.scalars(
            select(LeadRow.account_domain).where(LeadRow.account_domain.in_(domains)).distinct()
        )
        orphaned = set(domains) - set(still_used)
        if orphaned:
            await self.session.execute(delete(AccountRow).where(AccountRow.domain.in_(orphaned)))
        return len(orphaned)

    async def suppress(self, hashes: Collection[str], now: datetime) -> None:
        await self.session.execute(
            pg_insert(SuppressionRow)
            .values([{"subject_hash": known, "erased_at": now} for known in sorted(hashes)])
            .on_conflict_do_nothing(index_elements=["subject_hash"])
        )

    async def save_receipt(self, receipt: ErasureReceipt) -> None:
        self.session.add(
            ErasureReceiptRow(
                id=receipt.id,
                subject_hash=receipt.subject_hash,
                lead_ids=receipt.lead_ids,
                removed=receipt.removed,
                erased_at=receipt.erased_at,
            )
        )

    async def prune_events(self, older_than: datetime) -> int:
        result = await self.session.execute(
            delete(InboundEventRow).where(InboundEventRow.occurred_at < older_than)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _take(self) -> _Appended:
        taken, self._pending = self._pending, _Appended()
        self._unwritten_new.clear()
        return taken


def _account_rows(batch: PostgresScoringUnitOfWork) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for domain, name in sorted(batch.accounts.items()):  # one lock order for all consumers
        traits = batch.account_traits.get(domain, {})
        rows.append((domain, traits.get("name") or name, orjson.dumps(traits).decode(), batch.now))
    return rows

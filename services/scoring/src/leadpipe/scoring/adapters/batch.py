"""What one batch writes, collected so that each table gets one set-based statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.bulk import (
    columns_of,
    copy_rows,
    driver_connection,
    insert_rows,
    table_of,
    update_rows,
)
from leadpipe.scoring.adapters.lead_record import COLUMNS, LEADS, UPDATED, LeadRecord, RowValues
from leadpipe.scoring.adapters.lead_state import snapshot
from leadpipe.scoring.adapters.orm import (
    AccountRow,
    InboundEventRow,
    ScoreChangeRow,
    StageChangeRow,
    outbox,
)
from leadpipe.scoring.domain.lead import Outcome, ScoreChange
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import StageChanged
from leadpipe.shared.topics import Topics

SOURCE = "/leadpipe/scoring"
SCORE_CHANGES = ("lead_id", "event_id", "component", "code", "delta", "reason", "rules_version")
STAGE_CHANGES = ("lead_id", "event_id", "from_stage", "to_stage", "reason", "refused")
OUTBOX = ("event_id", "topic", "key", "headers", "payload")
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
class BatchWrites:
    """What one batch writes, collected so each table gets one statement."""

    rules: Rules
    topics: Topics
    now: datetime
    new_leads: list[LeadRecord] = field(default_factory=list)
    changed_leads: dict[str, LeadRecord] = field(default_factory=dict)
    score_changes: list[tuple[object, ...]] = field(default_factory=list)
    stage_changes: list[tuple[object, ...]] = field(default_factory=list)
    outbox_rows: list[tuple[object, ...]] = field(default_factory=list)
    inbound: list[tuple[str, str, datetime, str]] = field(default_factory=list)
    accounts: dict[str, str | None] = field(default_factory=dict)
    account_traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    moved_events: dict[str, str] = field(default_factory=dict)
    _new_ids: set[str] = field(default_factory=set)

    def changes(self, lead: LeadRecord, event_id: str, changes: Sequence[ScoreChange]) -> None:
        version = self.rules.version
        self.score_changes.extend(
            (lead.id, event_id, c.component, c.code, c.delta, c.reason, version) for c in changes
        )

    def outcome(self, lead: LeadRecord, cause_event_id: str, outcome: Outcome) -> None:
        self.changes(lead, cause_event_id, outcome.changes)
        for refusal in outcome.refused:
            from_stage = refusal.from_stage.value if refusal.from_stage else None
            self.stage_changes.append(
                (lead.id, cause_event_id, from_stage, refusal.to_stage.value, refusal.why, True)
            )
        for move in outcome.moves:
            from_stage = move.from_stage.value if move.from_stage else None
            self.stage_changes.append(
                (lead.id, cause_event_id, from_stage, move.to_stage.value, move.reason, False)
            )
            changed = StageChanged(
                event_id=str(uuid.uuid4()),
                occurred_at=self.now,
                lead_id=lead.id,
                lead_key=lead.lead_key,
                from_stage=move.from_stage,
                to_stage=move.to_stage,
                reason=move.reason,
                cause_event_id=cause_event_id,
                lead=snapshot(lead),
            )
            cloud_event = wrap(changed, SOURCE)
            headers = [[n, v.decode()] for n, v in cloud_event.headers()]
            self.outbox_rows.append(
                (
                    cloud_event.id,
                    self.topics.stage_changed,
                    lead.lead_key,
                    orjson.dumps(headers).decode(),
                    cloud_event.data,
                )
            )

    def created(self, lead: LeadRecord) -> None:
        """A lead this batch inserts."""
        self.new_leads.append(lead)
        self._new_ids.add(lead.id)

    def changed(self, lead: LeadRecord) -> None:
        """Mark a loaded lead for the batch's one update."""
        if lead.id not in self._new_ids:
            self.changed_leads[lead.id] = lead

    async def write(self, session: AsyncSession) -> None:
        """One statement per table, in the caller's transaction; new leads first: the other
        rows refer to them."""
        await _write(await driver_connection(session), self)


async def _write(connection: Any, batch: BatchWrites) -> None:
    if batch.new_leads:
        await copy_rows(connection, LEADS, COLUMNS, [_inserted(lead) for lead in batch.new_leads])
    if batch.changed_leads:
        await connection.execute(
            UPDATE_LEADS, *columns_of([_updated(lead) for lead in batch.changed_leads.values()])
        )
    if batch.score_changes:
        await copy_rows(connection, SCORE_CHANGE_TABLE, SCORE_CHANGES, batch.score_changes)
    if batch.stage_changes:
        await copy_rows(connection, STAGE_CHANGE_TABLE, STAGE_CHANGES, batch.stage_changes)
    if batch.outbox_rows:
        await copy_rows(connection, outbox, OUTBOX, batch.outbox_rows)
    moved = batch.moved_events
    if moved:
        await connection.execute(MOVE_INBOUND, list(moved), list(moved.values()))
    if batch.inbound:
        # A visitor's events from earlier in this batch belong to the lead it merged into.
        rows = [
            (event_id, moved.get(lead_id, lead_id), at, payload)
            for event_id, lead_id, at, payload in batch.inbound
        ]
        await copy_rows(connection, INBOUND_TABLE, INBOUND, rows)
    if batch.accounts:
        await connection.execute(UPSERT_ACCOUNTS, *columns_of(_account_rows(batch)))


def _account_rows(batch: BatchWrites) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for domain, name in sorted(batch.accounts.items()):  # one lock order for all consumers
        traits = batch.account_traits.get(domain, {})
        rows.append((domain, traits.get("name") or name, orjson.dumps(traits).decode(), batch.now))
    return rows

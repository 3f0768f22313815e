"""What one batch writes, collected so that each table gets one bulk statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.lead_state import snapshot
from leadpipe.scoring.adapters.orm import (
    AccountRow,
    InboundEventRow,
    LeadRow,
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
UPDATED = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "country",
    "industry",
    "company_size",
    "language",
    "account_domain",
    "stage",
    "fit",
    "engagement",
    "qualification",
    "grade",
    "temperature",
    "profile",
    "engagement_state",
    "answers",
    "hand_raiser",
    "contacted_at",
    "recycle_at",
    "merged_into",
    "rules_version",
    "updated_at",
)
INSERTED = (*UPDATED, "lead_key", "anonymous_id", "source")


def _columns(lead: LeadRow, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in names}


@dataclass
class BatchWrites:
    """What one batch writes, collected so each table gets one bulk statement."""

    rules: Rules
    topics: Topics
    now: datetime
    new_leads: list[LeadRow] = field(default_factory=list)
    changed_leads: dict[str, LeadRow] = field(default_factory=dict)
    score_changes: list[dict[str, Any]] = field(default_factory=list)
    stage_changes: list[dict[str, Any]] = field(default_factory=list)
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    inbound: list[dict[str, Any]] = field(default_factory=list)
    accounts: dict[str, str | None] = field(default_factory=dict)
    account_traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    moved_events: dict[str, str] = field(default_factory=dict)
    _new_ids: set[str] = field(default_factory=set)

    def changes(self, lead: LeadRow, event_id: str, changes: Sequence[ScoreChange]) -> None:
        self.score_changes.extend(
            {
                "lead_id": lead.id,
                "event_id": event_id,
                "component": change.component,
                "code": change.code,
                "delta": change.delta,
                "reason": change.reason,
                "rules_version": self.rules.version,
            }
            for change in changes
        )

    def outcome(self, lead: LeadRow, cause_event_id: str, outcome: Outcome) -> None:
        self.changes(lead, cause_event_id, outcome.changes)
        for refusal in outcome.refused:
            self.stage_changes.append(
                {
                    "lead_id": lead.id,
                    "event_id": cause_event_id,
                    "from_stage": refusal.from_stage.value if refusal.from_stage else None,
                    "to_stage": refusal.to_stage.value,
                    "reason": refusal.why,
                    "refused": True,
                }
            )
        for move in outcome.moves:
            self.stage_changes.append(
                {
                    "lead_id": lead.id,
                    "event_id": cause_event_id,
                    "from_stage": move.from_stage.value if move.from_stage else None,
                    "to_stage": move.to_stage.value,
                    "reason": move.reason,
                    "refused": False,
                }
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
            self.outbox_rows.append(
                {
                    "event_id": cloud_event.id,
                    "topic": self.topics.stage_changed,
                    "key": lead.lead_key,
                    "headers": [[n, v.decode()] for n, v in cloud_event.headers()],
                    "payload": cloud_event.data,
                }
            )

    def created(self, lead: LeadRow) -> None:
        """A lead this batch inserts."""
        self.new_leads.append(lead)
        self._new_ids.add(lead.id)

    def changed(self, lead: LeadRow) -> None:
        """Mark a loaded (detached) lead for the batch's one bulk update."""
        if lead.id not in self._new_ids:
            self.changed_leads[lead.id] = lead

    async def write(self, session: AsyncSession) -> None:
        """One bulk statement per table, new leads first: the other rows refer to them."""
        await _write(session, self)


async def _write(session: AsyncSession, batch: BatchWrites) -> None:
    # Leads first: the rows below refer to them. Every lead row carries all its columns, so
    # inserts and updates each go out as one executemany, whatever changed per lead.
    if batch.new_leads:
        await session.execute(
            insert(LeadRow), [_columns(lead, INSERTED) for lead in batch.new_leads]
        )
    if batch.changed_leads:
        await session.execute(
            update(LeadRow),
            [_columns(lead, UPDATED) for lead in batch.changed_leads.values()],
        )
    if batch.score_changes:
        await session.execute(insert(ScoreChangeRow), batch.score_changes)
    if batch.stage_changes:
        await session.execute(insert(StageChangeRow), batch.stage_changes)
    if batch.outbox_rows:
        await session.execute(insert(outbox), batch.outbox_rows)
    for old, new in batch.moved_events.items():
        await session.execute(
            update(InboundEventRow).where(InboundEventRow.lead_id == old).values(lead_id=new)
        )
    if batch.inbound:
        await session.execute(insert(InboundEventRow), batch.inbound)
    if batch.accounts:
        await _upsert_accounts(session, batch)


async def _upsert_accounts(session: AsyncSession, batch: BatchWrites) -> None:
    rows = [
        {
            "domain": domain,
            "name": batch.account_traits.get(domain, {}).get("name") or name,
            "traits": batch.account_traits.get(domain, {}),
        }
        for domain, name in sorted(batch.accounts.items())
    ]
    statement = pg_insert(AccountRow).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["domain"],
            set_={
                "name": func.coalesce(statement.excluded.name, AccountRow.name),
                "traits": AccountRow.traits.op("||")(statement.excluded.traits),
                "updated_at": batch.now,
            },
        )
    )

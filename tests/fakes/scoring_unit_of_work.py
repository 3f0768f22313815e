"""Scoring's unit of work in memory, for unit tests of the use cases: plain dicts and lists
that hold what PostgreSQL would, and the events the outbox would publish."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from leadpipe.scoring.adapters.stage_events import snapshot_of
from leadpipe.scoring.domain.lead import LeadState, Outcome, ScoreChange
from leadpipe.scoring.domain.lead_record import LeadRecord, state_of, store_state
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.service.ids import new_id
from leadpipe.scoring.service.unit_of_work import ErasureReceipt, ScoringUnitOfWork
from leadpipe.shared.events import LeadSnapshot, StageChanged, WireModel
from leadpipe.shared.privacy import record_key
from leadpipe.shared.topics import Topics


@dataclass(frozen=True)
class Emitted:
    topic: str
    key: str
    event: WireModel


@dataclass(frozen=True)
class StageChangeRecord:
    lead_id: str
    event_id: str
    from_stage: str | None
    to_stage: str
    reason: str
    refused: bool


@dataclass(frozen=True)
class ScoreChangeRecord:
    lead_id: str
    event_id: str
    change: ScoreChange
    rules_version: str


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    lead_id: str
    occurred_at: datetime
    payload: str


@dataclass
class InMemoryScoringUnitOfWork:
    """One store across many units of work: each use case's writes land on :meth:`write`
    (emitted events and erasure steps at once). Leads are handed out as copies, as rows
    read from a table would be. ``now`` is the time a batch or job runs at."""

    rules: Rules
    topics: Topics
    now: datetime
    processed: set[str] = field(default_factory=set)
    suppressions: dict[str, datetime] = field(default_factory=dict)
    leads: dict[str, LeadRecord] = field(default_factory=dict)
    score_changes: list[ScoreChangeRecord] = field(default_factory=list)
    stage_changes: list[StageChangeRecord] = field(default_factory=list)
    inbound: list[StoredEvent] = field(default_factory=list)
    outbox: list[Emitted] = field(default_factory=list)
    account_rows: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    receipts: list[ErasureReceipt] = field(default_factory=list)
    # What one use case collects before write(), as the Protocol asks.
    accounts: dict[str, str | None] = field(default_factory=dict)
    account_traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    moved_events: dict[str, str] = field(default_factory=dict)
    _held: dict[str, LeadState] = field(default_factory=dict)
    _pending: dict[str, LeadRecord] = field(default_factory=dict)

    async def fresh(self, event_ids: Sequence[str]) -> set[str]:
        new = set(event_ids) - self.processed
        self.processed |= new
        return new

    async def suppressed(self, hashes: Collection[str]) -> set[str]:
        return {digest for digest in hashes if digest in self.suppressions}

    async def lock_leads(
        self, keys: Collection[str], emails: Collection[str], anonymous: Collection[str]
    ) -> list[LeadRecord]:
        return [
            replace(lead)
            for lead in self.leads.values()
            if lead.lead_key in keys or lead.email in emails or lead.anonymous_id in anonymous
        ]

    async def lock_by_id(self, ids: Collection[str]) -> list[LeadRecord]:
        return [replace(self.leads[i]) for i in ids if i in self.leads]

    async def lock_due(self, now: datetime, limit: int) -> list[LeadRecord]:
        due = sorted(
            (lead for lead in self.leads.values() if lead.recycle_at and lead.recycle_at <= now),
            key=lambda lead: lead.recycle_at or now,
        )
        return [replace(lead) for lead in due[:limit]]

    def state(self, lead: LeadRecord, *, new: bool = False) -> LeadState:
        if new:
            return state_of(lead, new=True)
        return self._held.get(lead.id) or state_of(lead)

    def hold(self, lead: LeadRecord, state: LeadState) -> None:
        self._held[lead.id] = state
        self.changed(lead)

    def created(self, lead: LeadRecord) -> None:
        self._pending[lead.id] = lead

    def changed(self, lead: LeadRecord) -> None:
        self._pending[lead.id] = lead

    def changes(self, lead: LeadRecord, event_id: str, changes: Sequence[ScoreChange]) -> None:
        self.score_changes.extend(
            ScoreChangeRecord(lead.id, event_id, change, self.rules.version) for change in changes
        )

    def outcome(self, lead: LeadRecord, cause_event_id: str, outcome: Outcome) -> None:
        self.changes(lead, cause_event_id, outcome.changes)
        for refusal in outcome.refused:
            self.stage_changes.append(
                StageChangeRecord(
                    lead.id,
                    cause_event_id,
                    refusal.from_stage.value if refusal.from_stage else None,
                    refusal.to_stage.value,
                    refusal.why,
                    True,
                )
            )
        if not outcome.moves:
            return
        self._catch_up(lead)
        snapshot = LeadSnapshot.model_validate(snapshot_of(lead))
        for move in outcome.moves:
            from_stage = move.from_stage.value if move.from_stage else None
            self.stage_changes.append(
                StageChangeRecord(
                    lead.id, cause_event_id, from_stage, move.to_stage.value, move.reason, False
                )
            )
            key = record_key(lead.lead_key)
            event = StageChanged(
                event_id=new_id(),
                occurred_at=self.now,
                lead_id=lead.id,
                lead_key=key,
                from_stage=move.from_stage,
                to_stage=move.to_stage,
                reason=move.reason,
                cause_event_id=cause_event_id,
                lead=snapshot,
            )
            self.outbox.append(Emitted(self.topics.stage_changed, key, event))

    def applied(self, event_id: str, lead_id: str, occurred_at: datetime, payload: str) -> None:
        self.inbound.append(StoredEvent(event_id, lead_id, occurred_at, payload))

    async def hand_over(self, *, at_least: int) -> None:
        return None

    async def abandon(self) -> None:
        self._held.clear()
        self._pending.clear()

    async def write(self) -> None:
        for lead in self._pending.values():
            self._catch_up(lead)
            self.leads[lead.id] = lead
        self._pending.clear()
        for visitor, lead_id in self.moved_events.items():
            self.inbound = [
                replace(e, lead_id=lead_id) if e.lead_id == visitor else e for e in self.inbound
            ]
        for domain, name in self.accounts.items():
            old_name, old_traits = self.account_rows.get(domain, (None, {}))
            traits = {**old_traits, **self.account_traits.get(domain, {})}
            self.account_rows[domain] = (traits.get("name") or name or old_name, traits)
        self.accounts, self.account_traits, self.moved_events = {}, {}, {}

    def _catch_up(self, lead: LeadRecord) -> None:
        held = self._held.pop(lead.id, None)
        if held is not None:
            store_state(lead, held, self.rules, self.now)

    async def emit(self, topic: str, key: str, event: WireModel) -> None:
        self.outbox.append(Emitted(topic, key, event))

    async def leads_of_person(self, email: str) -> list[LeadRecord]:
        found = [replace(lead) for lead in self.leads.values() if lead.email == email]
        ids = {lead.id for lead in found}
        merged = [replace(lead) for lead in self.leads.values() if lead.merged_into in ids]
        return [*found, *merged]

    async def stored_events(self, lead_ids: Collection[str]) -> list[Any]:
        return [orjson.loads(e.payload) for e in self.inbound if e.lead_id in lead_ids]

    async def remove_history(
        self, lead_ids: Collection[str], record_keys: Collection[str]
    ) -> dict[str, int]:
        counts = {
            "score_changes": len(self.score_changes),
            "stage_changes": len(self.stage_changes),
            "inbound_events": len(self.inbound),
            "outbox": len(self.outbox),
        }
        self.score_changes = [c for c in self.score_changes if c.lead_id not in lead_ids]
        self.stage_changes = [c for c in self.stage_changes if c.lead_id not in lead_ids]
        self.inbound = [e for e in self.inbound if e.lead_id not in lead_ids]
        self.outbox = [e for e in self.outbox if e.key not in record_keys]
        counts["score_changes"] -= len(self.score_changes)
        counts["stage_changes"] -= len(self.stage_changes)
        counts["inbound_events"] -= len(self.inbound)
        counts["outbox"] -= len(self.outbox)
        return counts

    async def anonymise(self, lead_ids: Collection[str]) -> None:
        for lead_id in lead_ids:
            self.leads[lead_id] = replace(
                self.leads[lead_id],
                lead_key=f"erased:{lead_id}",
                email=None,
                anonymous_id=None,
                first_name=None,
                last_name=None,
                company=None,
                title=None,
                account_domain=None,
                merged_into=None,
                profile={},
                answers={},
                consents=[],
            )

    async def drop_unused_accounts(self, domains: Collection[str]) -> int:
        used = {lead.account_domain for lead in self.leads.values()}
        orphaned = [d for d in domains if d not in used and d in self.account_rows]
        for domain in orphaned:
            del self.account_rows[domain]
        return len(set(domains) - used)

    async def suppress(self, hashes: Collection[str], now: datetime) -> None:
        for digest in hashes:
            self.suppressions.setdefault(digest, now)

    async def save_receipt(self, receipt: ErasureReceipt) -> None:
        self.receipts.append(receipt)

    async def prune_events(self, older_than: datetime) -> int:
        kept = [e for e in self.inbound if e.occurred_at >= older_than]
        pruned = len(self.inbound) - len(kept)
        self.inbound = kept
        return pruned


def _satisfies_the_protocol(rules: Rules, topics: Topics, now: datetime) -> ScoringUnitOfWork:
    # mypy holds the fake to the Protocol here.
    return InMemoryScoringUnitOfWork(rules, topics, now)

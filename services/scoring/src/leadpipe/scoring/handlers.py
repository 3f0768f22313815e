"""Applies a batch of inbound events: load the batch's leads, decide, save, emit — all inside
the caller's one transaction, with a handful of statements per batch rather than per event."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.batch import BatchWrites
from leadpipe.scoring.adapters.bulk import driver_connection, insert_rows, table_of
from leadpipe.scoring.adapters.erasure import suppressed
from leadpipe.scoring.adapters.lead_record import LeadRecord, lock_by_id, lock_leads
from leadpipe.scoring.adapters.lead_state import state_of, store_state
from leadpipe.scoring.adapters.orm import ProcessedEventRow
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.domain.accounts import account_domain
from leadpipe.scoring.domain.identity import merge
from leadpipe.scoring.domain.lead import apply_event
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import EnvelopeError, from_record, unwrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.records import Record
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)
MERGING_CALLS = frozenset({"identify", "alias", "form_submitted"})
# Rows are handed to PostgreSQL in runs of this many events or more (each run costs a few
# statements), and the event loop gets a turn this often so that a run under way moves on.
HAND_OVER_AT_LEAST = 100
YIELD_EVERY = 2
MARK_PROCESSED = insert_rows(
    table_of(ProcessedEventRow),
    ("event_id",),
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
)


def decode(records: Sequence[Record]) -> list[InboundEvent]:
    events = []
    for record in records:
        try:
            event = unwrap(from_record(record.headers, record.value), InboundEvent)
            if event.occurred_at.tzinfo is None:
                # Decay compares times: a naive time would fail every retry of the batch.
                event = event.model_copy(
                    update={"occurred_at": event.occurred_at.replace(tzinfo=UTC)}
                )
            events.append(event)
        except EnvelopeError as exc:
            # Not retried: the consume loop dead-letters it and the batch goes on without it.
            raise UndecodableRecord(str(exc)) from exc
    return events


class InboundBatchHandler:
    """The scoring consumer's batch handler: one transaction per batch, then wake the relay."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: Topics,
        on_commit: Callable[[], None],
        rules: RulesCache,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._on_commit = on_commit
        self._rules = rules

    async def __call__(self, records: Sequence[Record]) -> None:
        events = decode(records)
        if not events:
            return
        async with self._sessions() as session, session.begin():
            rules = await self._rules.active(session)
            await apply_batch(session, events, rules, self._topics, datetime.now(UTC))
        self._on_commit()


def _previous_id(event: InboundEvent) -> str | None:
    """The anonymous id an identify / alias call ties to a known person."""
    for raw in (
        event.identity.anonymous_id,
        event.properties.get("previous_id"),
        event.properties.get("previousId"),
    ):
        if isinstance(raw, str) and raw and raw != event.lead_key:
            return raw
    return None


async def _fresh(connection: Any, events: Sequence[InboundEvent]) -> list[InboundEvent]:
    """The events not processed before, in order, each once; marks them processed."""
    unique: dict[str, InboundEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    fresh = {row[0] for row in await connection.fetch(MARK_PROCESSED, list(unique))}
    skipped = len(unique) - len(fresh)
    if skipped:
        log.info("duplicate events skipped", extra={"count": skipped})
    return [event for event_id, event in unique.items() if event_id in fresh]


class _Leads:
    """The batch's leads, locked, found by key, email or anonymous id."""

    def __init__(self, rows: Sequence[LeadRecord]) -> None:
        self.by_id: dict[str, LeadRecord] = {}
        self.by_key: dict[str, LeadRecord] = {}
        self.by_email: dict[str, LeadRecord] = {}
        self.by_anonymous: dict[str, LeadRecord] = {}
        self.new: set[str] = set()
        for row in rows:
            self.add(row)

    def add(self, row: LeadRecord) -> None:
        self.by_id[row.id] = row
        self.by_key[row.lead_key] = row
        if row.email:
            self.by_email[row.email] = row
        if row.anonymous_id and row.email is None:
            self.by_anonymous[row.anonymous_id] = row

    def live(self, row: LeadRecord | None) -> LeadRecord | None:
        while row is not None and row.merged_into is not None:
            row = self.by_id.get(row.merged_into)
        return row

    def find(self, event: InboundEvent) -> LeadRecord | None:
        email = event.identity.email
        return self.live(
            self.by_key.get(event.lead_key) or (self.by_email.get(email) if email else None)
        )

    def anonymous(self, anonymous_id: str | None) -> LeadRecord | None:
        if anonymous_id is None:
            return None
        row = self.by_anonymous.get(anonymous_id) or self.by_key.get(anonymous_id)
        return row if row is not None and row.email is None and row.merged_into is None else None


async def _load(connection: Any, events: Sequence[InboundEvent]) -> _Leads:
    keys = {event.lead_key for event in events}
    emails = {event.identity.email for event in events if event.identity.email}
    anonymous = {a for event in events if (a := _previous_id(event)) is not None}
    leads = _Leads(await lock_leads(connection, keys | anonymous, emails, anonymous))
    targets = {r.merged_into for r in leads.by_id.values() if r.merged_into} - set(leads.by_id)
    if targets:
        for row in await lock_by_id(connection, targets):
            leads.add(row)
    return leads


def _new_lead(event: InboundEvent, rules: Rules) -> LeadRecord:
    email = event.identity.email
    return LeadRecord(
        id=str(uuid.uuid4()),
        lead_key=event.lead_key,
        email=email,
        anonymous_id=event.identity.anonymous_id,
        stage="lead",
        rules_version=rules.version,
        source=event.source,
        account_domain=account_domain(email),
    )


def _resolve(leads: _Leads, event: InboundEvent, batch: BatchWrites) -> tuple[LeadRecord, bool]:
    """The lead an event belongs to, merging an anonymous visitor into it when the event ties
    the two together by email. Returns the lead and whether it is new (no stage yet)."""
    lead = leads.find(event)
    email = event.identity.email
    visitor = leads.anonymous(_previous_id(event)) if event.name in MERGING_CALLS else None
    if lead is None and visitor is not None and email:
        # The visitor identified and no known lead exists yet: the visitor becomes it.
        visitor.email = email
        visitor.account_domain = account_domain(email)
        leads.add(visitor)
        return visitor, False
    if lead is None:
        lead = _new_lead(event, batch.rules)
        leads.add(lead)
        leads.new.add(lead.id)
        batch.created(lead)
        return lead, True
    if visitor is not None and visitor.id != lead.id:
        merged, changes = merge(
            state_of(lead, new=lead.id in leads.new),
            state_of(visitor),
            event.occurred_at,
            batch.rules,
        )
        if merged.stage is not None:
            store_state(lead, merged, batch.rules, batch.now)
        batch.changed(visitor)
        batch.changes(lead, event.event_id, changes)
        visitor.merged_into = lead.id
        batch.moved_events[visitor.id] = lead.id
    return lead, lead.id in leads.new


async def apply_batch(
    session: AsyncSession,
    events: Sequence[InboundEvent],
    rules: Rules,
    topics: Topics,
    now: datetime,
) -> None:
    """Apply ``events`` (already decoded) in the caller's transaction. Idempotent per event."""
    connection = await driver_connection(session)
    fresh = await _fresh(connection, events)
    erased = await suppressed(connection, fresh)
    if erased:
        log.info("events of erased people dropped", extra={"count": len(erased)})
        fresh = [event for event in fresh if event.event_id not in erased]
    if not fresh:
        return
    leads = await _load(connection, fresh)
    batch = BatchWrites(rules, topics, now)
    try:
        for count, event in enumerate(fresh, 1):
            lead, new = _resolve(leads, event, batch)
            outcome = apply_event(state_of(lead, new=new), event, rules)
            store_state(lead, outcome.state, rules, now)
            batch.changed(lead)
            leads.new.discard(lead.id)  # its first event gave it a stage
            batch.outcome(lead, event.event_id, outcome)
            batch.applied(event.event_id, lead.id, event.occurred_at, event.model_dump_json())
            if lead.account_domain:
                batch.accounts.setdefault(lead.account_domain, lead.company)
                if event.name == "group":
                    batch.account_traits.setdefault(lead.account_domain, {}).update(event.traits)
            if count % YIELD_EVERY == 0:
                await batch.hand_over(connection, at_least=HAND_OVER_AT_LEAST)
    except BaseException:
        await batch.abandon()
        raise
    await batch.write(session)

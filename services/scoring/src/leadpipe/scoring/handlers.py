"""Applies a batch of inbound events: load the batch's leads, decide, save, emit — all inside
the caller's one transaction, with a handful of statements per batch rather than per event."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple, cast

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.batch import BatchWrites
from leadpipe.scoring.adapters.erasure import suppressed
from leadpipe.scoring.adapters.ids import new_id
from leadpipe.scoring.adapters.lead_record import LeadRecord, lock_by_id, lock_leads
from leadpipe.scoring.adapters.orm import ProcessedEventRow
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.subject_keys import SubjectKeyClient
from leadpipe.scoring.domain.accounts import account_domain, company_traits
from leadpipe.scoring.domain.identity import merge
from leadpipe.scoring.domain.lead import apply_event
from leadpipe.scoring.domain.rules import Rules
from leadpipe.shared.bookkeeping import mark_processed
from leadpipe.shared.bulk import Connection, table_of
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import CloudEvent, EnvelopeError, from_record, unwrap
from leadpipe.shared.events import InboundEvent, SealedInboundEvent
from leadpipe.shared.memory import collector_paused
from leadpipe.shared.records import Record
from leadpipe.shared.sealing import Unreadable, unseal
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)
MERGING_CALLS = frozenset({"identify", "alias", "form_submitted"})
_SEALED = SealedInboundEvent.CE_TYPE.encode()
# Rows are handed to PostgreSQL in runs of this many events or more (each run costs a few
# statements), and the event loop gets a turn this often so that a run under way moves on.
HAND_OVER_AT_LEAST = 100
YIELD_EVERY = 2
MARK_PROCESSED = mark_processed(table_of(ProcessedEventRow))


class Decoded(NamedTuple):
    """An inbound event and the JSON stored for what-if replays."""

    event: InboundEvent
    stored: str


def _stored_as_sent(event: InboundEvent) -> bool:
    """Whether the record's own JSON reads back from JSONB as the same event. Only numbers can
    read back differently: JSONB keeps a number as an exact decimal and gives 1e2 back as 100,
    an int, where the live fold saw the float 100.0. Without floats there is no such number."""
    pending: list[object] = [event.traits, event.properties, event.context]
    for model in (event, event.identity, event.consent):
        if model is not None and model.model_extra:
            pending.append(model.model_extra)
    for value in pending:  # grows while it is walked: every nested value gets its turn
        kind = type(value)  # parsed JSON: plain dicts, lists and floats, no subclasses
        if kind is float:
            return False
        if kind is dict:
            pending.extend(cast("dict[str, object]", value).values())
        elif kind is list:
            pending.extend(cast("list[object]", value))
    return True


def sealed_subjects(records: Sequence[Record]) -> set[str]:
    """The subjects whose data keys a batch needs: the record keys of its sealed events."""
    return {
        record.key.decode()
        for record in records
        if record.key is not None
        and any(name == "ce_type" and value == _SEALED for name, value in record.headers)
    }


def _open(envelope: CloudEvent, keys: Mapping[str, bytes | None]) -> bytes | None:
    """The sealed event's own JSON; None when its subject's key was shredded."""
    sealed = unwrap(envelope, SealedInboundEvent)
    data_key = keys.get(sealed.subject)
    if data_key is None:
        return None
    try:
        return unseal(data_key, sealed.subject, sealed.sealed)
    except Unreadable as exc:
        raise EnvelopeError(f"sealed event {sealed.event_id} does not open: {exc}") from exc


def decode(
    records: Sequence[Record], keys: Mapping[str, bytes | None] | None = None
) -> list[Decoded]:
    """The batch's inbound events, sealed ones opened with ``keys``; an event whose key was
    shredded (its person erased) is left out."""
    decoded = []
    shredded = 0
    for record in records:
        try:
            envelope = from_record(record.headers, record.value)
            raw = record.value
            if SealedInboundEvent.carries(envelope.type):
                raw = _open(envelope, keys or {})
                if raw is None:
                    shredded += 1
                    continue
                try:
                    event = InboundEvent.model_validate_json(raw)
                except ValidationError as exc:
                    # Without the input: it is what the seal was there to keep unread.
                    where = [error["loc"] for error in exc.errors(include_input=False)[:3]]
                    raise EnvelopeError(f"sealed InboundEvent invalid at {where}") from exc
            else:
                event = unwrap(envelope, InboundEvent)
        except EnvelopeError as exc:
            # Not retried: the consume loop dead-letters it and the batch goes on without it.
            raise UndecodableRecord(str(exc)) from exc
        assert raw is not None  # from_record refuses a record without a value
        if event.occurred_at.tzinfo is None:
            # Decay compares times: a naive time would fail every retry of the batch.
            event = event.model_copy(update={"occurred_at": event.occurred_at.replace(tzinfo=UTC)})
            stored = event.model_dump_json()
        elif _stored_as_sent(event):
            # The record's own JSON, valid UTF-8 since the model read it: stored as it came
            # rather than written again (about as costly as reading it).
            stored = raw.decode()
        else:
            stored = event.model_dump_json()
        decoded.append(Decoded(event, stored))
    if shredded:
        log.info(
            "events of erased people skipped: their keys are shredded", extra={"count": shredded}
        )
    return decoded


class InboundBatchHandler:
    """The scoring consumer's batch handler: one transaction per batch, then wake the relay."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        topics: Topics,
        on_commit: Callable[[], None],
        rules: RulesCache,
        keys: SubjectKeyClient | None = None,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._on_commit = on_commit
        self._rules = rules
        self._keys = keys

    async def __call__(self, records: Sequence[Record]) -> None:
        # A batch's events, leads and rows stay alive until it commits: collections during it
        # would walk them again and again, only to promote them (measured, a visible share of
        # the CPU).
        with collector_paused():
            applied = await self._apply(records)
        if applied:
            self._on_commit()

    async def _apply(self, records: Sequence[Record]) -> bool:
        """Decode and apply in a frame of its own: the batch's events are gone by the time the
        collector runs again after it, so that its first collection need not walk them."""
        subjects = sealed_subjects(records)
        keys = await self._keys.keys(subjects) if subjects and self._keys is not None else None
        events = decode(records, keys)
        if not events:
            return False
        async with self._sessions() as session, session.begin():
            rules = await self._rules.active(session)
            await apply_batch(session, events, rules, self._topics, datetime.now(UTC))
        return True


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


async def _fresh(connection: Connection, decoded: Sequence[Decoded]) -> list[Decoded]:
    """The events not processed before, in order, each once; marks them processed."""
    unique: dict[str, Decoded] = {}
    for item in decoded:
        unique.setdefault(item.event.event_id, item)
    fresh = {row[0] for row in await connection.fetch(MARK_PROCESSED, list(unique))}
    skipped = len(unique) - len(fresh)
    if skipped:
        log.info("duplicate events skipped", extra={"count": skipped})
    return [item for event_id, item in unique.items() if event_id in fresh]


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


async def _load(connection: Connection, events: Sequence[InboundEvent]) -> _Leads:
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
        id=new_id(),
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
            batch.state(lead, new=lead.id in leads.new),
            batch.state(visitor),
            event.occurred_at,
            batch.rules,
        )
        if merged.stage is not None:
            batch.hold(lead, merged)
        batch.changed(visitor)
        batch.changes(lead, event.event_id, changes)
        visitor.merged_into = lead.id
        batch.moved_events[visitor.id] = lead.id
    return lead, lead.id in leads.new


async def apply_batch(
    session: AsyncSession,
    decoded: Sequence[Decoded],
    rules: Rules,
    topics: Topics,
    now: datetime,
) -> None:
    """Apply ``decoded`` events in the caller's transaction. Idempotent per event."""
    connection = await Connection.of(session)
    fresh = await _fresh(connection, decoded)
    erased = await suppressed(connection, [item.event for item in fresh])
    if erased:
        log.info("events of erased people dropped", extra={"count": len(erased)})
        fresh = [item for item in fresh if item.event.event_id not in erased]
    if not fresh:
        return
    leads = await _load(connection, [item.event for item in fresh])
    batch = BatchWrites(rules, topics, now)
    try:
        for count, (event, stored) in enumerate(fresh, 1):
            lead, new = _resolve(leads, event, batch)
            before = batch.state(lead, new=new)
            outcome = apply_event(before, event, rules)
            if outcome.state is before and outcome.ignored is not None:
                continue  # changes nothing, so not kept for what-if either
            batch.hold(lead, outcome.state)
            leads.new.discard(lead.id)  # its first event gave it a stage
            batch.outcome(lead, event.event_id, outcome)
            batch.applied(event.event_id, lead.id, event.occurred_at, stored)
            if outcome.ignored is not None:
                continue  # only the consent it carried counted, not its traits
            if lead.account_domain:
                # The company as the row will have it (the row catches up with the state later).
                company = outcome.state.profile.get("company")
                batch.accounts.setdefault(
                    lead.account_domain, lead.company if company is None else str(company)
                )
                if event.name == "group":
                    batch.account_traits.setdefault(lead.account_domain, {}).update(
                        company_traits(event.traits)
                    )
            if count % YIELD_EVERY == 0:
                await batch.hand_over(connection, at_least=HAND_OVER_AT_LEAST)
    except BaseException:
        await batch.abandon()
        raise
    await batch.write(session)

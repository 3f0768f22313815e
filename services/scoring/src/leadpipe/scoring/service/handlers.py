"""Applies a batch of inbound events: load the batch's leads, decide, save, emit — all through
the caller's unit of work (one transaction, which the caller commits), with a handful of
statements per batch rather than per event. Each event goes to its handler by name
(:data:`HANDLERS`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from leadpipe.scoring.domain.accounts import account_domain, company_traits
from leadpipe.scoring.domain.identity import merge
from leadpipe.scoring.domain.lead import apply_event
from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.service.erasure import identifier_hashes
from leadpipe.scoring.service.ids import new_id
from leadpipe.scoring.service.unit_of_work import ScoringUnitOfWork
from leadpipe.shared.events import InboundEvent

log = logging.getLogger(__name__)
# Rows are handed to PostgreSQL in runs of this many events or more (each run costs a few
# statements), and the event loop gets a turn this often so that a run under way moves on.
HAND_OVER_AT_LEAST = 100
YIELD_EVERY = 2


class Decoded(NamedTuple):
    """An inbound event and the JSON stored for what-if replays."""

    event: InboundEvent
    stored: str


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


async def _fresh(uow: ScoringUnitOfWork, decoded: Sequence[Decoded]) -> list[Decoded]:
    """The events not processed before, in order, each once; marks them processed."""
    unique: dict[str, Decoded] = {}
    for item in decoded:
        unique.setdefault(item.event.event_id, item)
    fresh = await uow.fresh(list(unique))
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


async def suppressed(uow: ScoringUnitOfWork, events: Sequence[InboundEvent]) -> set[str]:
    """The ids of ``events`` whose person was erased: they must not bring the person back."""
    by_hash: dict[str, list[str]] = {}
    for event in events:
        for digest in identifier_hashes(event):
            by_hash.setdefault(digest, []).append(event.event_id)
    if not by_hash:
        return set()
    found = await uow.suppressed(list(by_hash))
    return {event_id for digest in found for event_id in by_hash[digest]}


async def _load(uow: ScoringUnitOfWork, events: Sequence[InboundEvent]) -> _Leads:
    keys = {event.lead_key for event in events}
    emails = {event.identity.email for event in events if event.identity.email}
    anonymous = {a for event in events if (a := _previous_id(event)) is not None}
    leads = _Leads(await uow.lock_leads(keys | anonymous, emails, anonymous))
    targets = {r.merged_into for r in leads.by_id.values() if r.merged_into} - set(leads.by_id)
    if targets:
        for row in await uow.lock_by_id(targets):
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


def _resolve(
    batch: Batch, event: InboundEvent, visitor: LeadRecord | None
) -> tuple[LeadRecord, bool]:
    """The lead an event belongs to, merging the anonymous ``visitor`` into it when the event
    ties the two together by email. Returns the lead and whether it is new (no stage yet)."""
    leads, writes = batch.leads, batch.writes
    lead = leads.find(event)
    email = event.identity.email
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
        writes.created(lead)
        return lead, True
    if visitor is not None and visitor.id != lead.id:
        merged, changes = merge(
            writes.state(lead, new=lead.id in leads.new),
            writes.state(visitor),
            event.occurred_at,
            batch.rules,
        )
        if merged.stage is not None:
            writes.hold(lead, merged)
        writes.changed(visitor)
        writes.changes(lead, event.event_id, changes)
        visitor.merged_into = lead.id
        writes.moved_events[visitor.id] = lead.id
    return lead, lead.id in leads.new


class Batch(NamedTuple):
    """What the handlers of one batch share."""

    leads: _Leads
    writes: ScoringUnitOfWork
    rules: Rules


def _score(batch: Batch, event: InboundEvent, stored: str, lead: LeadRecord, new: bool) -> bool:
    """Fold ``event`` into ``lead``; whether it counted beyond the consent it carried."""
    writes = batch.writes
    before = writes.state(lead, new=new)
    outcome = apply_event(before, event, batch.rules)
    if outcome.state is before and outcome.ignored is not None:
        return False  # changes nothing, so not kept for what-if either
    writes.hold(lead, outcome.state)
    batch.leads.new.discard(lead.id)  # its first event gave it a stage
    writes.outcome(lead, event.event_id, outcome)
    writes.applied(event.event_id, lead.id, event.occurred_at, stored)
    if outcome.ignored is not None:
        return False  # only the consent it carried counted, not its traits
    if lead.account_domain:
        # The company as the row will have it (the row catches up with the state later).
        company = outcome.state.profile.get("company")
        writes.accounts.setdefault(
            lead.account_domain, lead.company if company is None else str(company)
        )
    return True


def on_activity(batch: Batch, event: InboundEvent, stored: str) -> None:
    """Tracking calls, form-less signals and sales feedback: scored for the lead they name."""
    _score(batch, event, stored, *_resolve(batch, event, None))


def on_identified(batch: Batch, event: InboundEvent, stored: str) -> None:
    """identify, alias and form posts: they can tie an anonymous visitor to a known person,
    who takes over the visitor's history before the event is scored."""
    visitor = batch.leads.anonymous(_previous_id(event))
    _score(batch, event, stored, *_resolve(batch, event, visitor))


def on_group(batch: Batch, event: InboundEvent, stored: str) -> None:
    """A group call also updates the account the lead belongs to with its company traits."""
    lead, new = _resolve(batch, event, None)
    if _score(batch, event, stored, lead, new) and lead.account_domain:
        batch.writes.account_traits.setdefault(lead.account_domain, {}).update(
            company_traits(event.traits)
        )


Handler = Callable[[Batch, InboundEvent, str], None]
# Inbound events by name; every name not listed is activity (on_activity).
HANDLERS: Mapping[str, Handler] = {
    "identify": on_identified,
    "alias": on_identified,
    "form_submitted": on_identified,
    "group": on_group,
}


async def apply_batch(uow: ScoringUnitOfWork, decoded: Sequence[Decoded], rules: Rules) -> None:
    """Apply ``decoded`` events through ``uow``, in the caller's transaction. Idempotent per
    event; never commits."""
    fresh = await _fresh(uow, decoded)
    erased = await suppressed(uow, [item.event for item in fresh])
    if erased:
        log.info("events of erased people dropped", extra={"count": len(erased)})
        fresh = [item for item in fresh if item.event.event_id not in erased]
    if not fresh:
        return
    leads = await _load(uow, [item.event for item in fresh])
    batch = Batch(leads, uow, rules)
    handler_of = HANDLERS.get
    try:
        for count, (event, stored) in enumerate(fresh, 1):
            handler_of(event.name, on_activity)(batch, event, stored)
            if count % YIELD_EVERY == 0:
                await uow.hand_over(at_least=HAND_OVER_AT_LEAST)
    except BaseException:
        await uow.abandon()
        raise
    await uow.write()

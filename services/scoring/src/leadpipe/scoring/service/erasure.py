"""Erasing a person on request (GDPR / DSGVO Art. 17), and pruning old event history.

The lead row stays, stripped of everything personal, so that counts per stage stay right;
its explanations, event history and queued events go. Suppression entries, one hash per
identifier the person was known by (email, lead keys, user ids, anonymous ids), keep events
still in Kafka, or sent later under any of them, from bringing the person back."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.scoring.service.unit_of_work import ErasureReceipt, ScoringUnitOfWork
from leadpipe.shared.events import InboundEvent, LeadErased
from leadpipe.shared.privacy import identifier_hash, record_key, subject_hash
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)


async def erase_person(
    uow: ScoringUnitOfWork, email: str, topics: Topics, now: datetime
) -> ErasureReceipt:
    """Erase everything scoring holds about ``email``, in the caller's transaction, and tell
    the other services through a ``LeadErased`` event per lead. Idempotent."""
    digest = subject_hash(email)
    normalised = email.strip().lower()
    # An anonymous visitor merged into this person is this person too.
    leads = await uow.leads_of_person(normalised)
    lead_ids = [lead.id for lead in leads]
    erasure_id = str(uuid.uuid4())
    # Read before the history goes: the ids the person's events came under.
    hashes, lead_keys = await _identifiers(uow, leads)
    hashes.add(digest)
    lead_keys |= {email.strip(), normalised}
    # Ingest's keys for these subjects are shredded by the caller (entrypoints/api/erasures.py).
    subjects = sorted({record_key(key) for key in lead_keys})
    removed = await uow.remove_history(lead_ids, [record_key(lead.lead_key) for lead in leads])
    removed["leads_anonymised"] = len(lead_ids)
    for lead in leads:
        erased = LeadErased(
            event_id=str(uuid.uuid4()), occurred_at=now, lead_id=lead.id, erasure_id=erasure_id
        )
        # Keyed by the lead id, not the lead key: this row outlives the erasure.
        # Routing remembers erased lead ids, so an earlier event read later changes nothing.
        await uow.emit(topics.stage_changed, lead.id, erased)
    domains = {lead.account_domain for lead in leads if lead.account_domain}
    if lead_ids:
        await uow.anonymise(lead_ids)
    # An account named after the person (Max Mustermann GmbH) goes with its last lead.
    removed["accounts"] = await uow.drop_unused_accounts(domains)
    await uow.suppress(hashes, now)
    removed["identifiers_suppressed"] = len(hashes)
    removed["subjects"] = len(subjects)
    receipt = ErasureReceipt(erasure_id, digest, lead_ids, removed, now, subjects)
    await uow.save_receipt(receipt)
    return receipt


def lead_keys_of(event: InboundEvent) -> set[str]:
    """Every lead key ingest may have published the event's person under."""
    identity = event.identity
    keys = {event.lead_key}
    if identity.email:
        keys.add(identity.email)
    if identity.user_id:
        keys.add(identity.user_id)
    for anonymous in (
        identity.anonymous_id,
        event.properties.get("previous_id"),
        event.properties.get("previousId"),
    ):
        if isinstance(anonymous, str) and anonymous:
            keys.add(f"anon:{anonymous}")
    return keys


def identifier_hashes(event: InboundEvent) -> set[str]:
    """The suppression entries that match ``event``: one per identifier it carries."""
    identity = event.identity
    found = {identifier_hash("lead_key", event.lead_key)}
    if identity.email:
        found.add(subject_hash(identity.email))
    if identity.user_id:
        found.add(identifier_hash("user_id", identity.user_id))
    for anonymous in (
        identity.anonymous_id,
        event.properties.get("previous_id"),
        event.properties.get("previousId"),
    ):
        if isinstance(anonymous, str) and anonymous:
            found.add(identifier_hash("anonymous_id", anonymous))
    return found


async def _identifiers(
    uow: ScoringUnitOfWork, leads: Sequence[LeadRecord]
) -> tuple[set[str], set[str]]:
    """The suppression hashes of every identifier ``leads`` were known by, and every lead
    key their events may have been published under, from their rows and stored events."""
    found: set[str] = set()
    lead_keys: set[str] = set()
    for lead in leads:
        found.add(identifier_hash("lead_key", lead.lead_key))
        lead_keys.add(lead.lead_key)
        if lead.email:
            found.add(subject_hash(lead.email))
            lead_keys.add(lead.email)
        if lead.anonymous_id:
            found.add(identifier_hash("anonymous_id", lead.anonymous_id))
            lead_keys.add(f"anon:{lead.anonymous_id}")
    for payload in await uow.stored_events([lead.id for lead in leads]):
        try:
            event = InboundEvent.model_validate(payload)
        except ValueError:
            log.warning("a stored event of an erased lead could not be read for its ids")
            continue
        found |= identifier_hashes(event)
        lead_keys |= lead_keys_of(event)
    return found, lead_keys


async def prune_event_history(uow: ScoringUnitOfWork, older_than: datetime) -> int:
    """Drop stored inbound events older than ``older_than`` (the retention setting). Scores
    and explanations stay; only what-if replays reach less far back."""
    return await uow.prune_events(older_than)

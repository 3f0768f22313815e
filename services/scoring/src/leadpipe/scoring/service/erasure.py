"""Erasing a person on request (GDPR / DSGVO Art. 17), and pruning old event history.

The lead row stays, stripped of everything personal, so that counts per stage stay right;
its explanations, event history and queued events go. Suppression entries, one hash per
identifier the person was known by (email, lead keys, user ids, anonymous ids), keep events
still in Kafka, or sent later under any of them, from bringing the person back."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.orm import (
    AccountRow,
    ErasureReceiptRow,
    InboundEventRow,
    LeadRow,
    ScoreChangeRow,
    StageChangeRow,
    SuppressionRow,
    outbox,
)
from leadpipe.shared.bulk import Connection, table_of
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import InboundEvent, LeadErased
from leadpipe.shared.outbox import enqueue
from leadpipe.shared.privacy import identifier_hash, record_key, subject_hash
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)
SOURCE = "/leadpipe/scoring"
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
SUPPRESSED = (
    f"SELECT subject_hash FROM {table_of(SuppressionRow).fullname}"
    " WHERE subject_hash = ANY($1::TEXT[])"
)


@dataclass(frozen=True)
class ErasureReceipt:
    id: str
    subject_hash: str
    lead_ids: list[str]
    removed: dict[str, int]
    erased_at: datetime
    # The pseudonymous subjects whose data keys are to be shredded (not stored).
    subjects: list[str]


async def erase_person(
    session: AsyncSession, email: str, topics: Topics, now: datetime
) -> ErasureReceipt:
    """Erase everything scoring holds about ``email``, in the caller's transaction, and tell
    the other services through a ``LeadErased`` event per lead. Idempotent."""
    digest = subject_hash(email)
    normalised = email.strip().lower()
    leads = (
        (
            await session.execute(
                select(LeadRow).where(LeadRow.email == normalised).with_for_update()
            )
        )
        .scalars()
        .all()
    )
    # An anonymous visitor merged into this person is this person too.
    ids = [lead.id for lead in leads]
    if ids:
        merged = await session.scalars(select(LeadRow).where(LeadRow.merged_into.in_(ids)))
        leads = [*leads, *merged]
    lead_ids = [lead.id for lead in leads]
    erasure_id = str(uuid.uuid4())
    # Read before the history goes: the ids the person's events came under.
    hashes, lead_keys = await _identifiers(session, leads)
    hashes.add(digest)
    lead_keys |= {email.strip(), normalised}
    # Ingest's keys for these subjects are shredded by the caller (see entrypoints/api/erasures.py).
    subjects = sorted({record_key(key) for key in lead_keys})
    removed = await _remove_history(session, leads)
    for lead in leads:
        erased = LeadErased(
            event_id=str(uuid.uuid4()), occurred_at=now, lead_id=lead.id, erasure_id=erasure_id
        )
        # Keyed by the lead id, not the lead key: this row outlives the erasure.
        # Routing remembers erased lead ids, so an earlier event read later changes nothing.
        await enqueue(session, outbox, topics.stage_changed, lead.id, wrap(erased, SOURCE))
    domains = {lead.account_domain for lead in leads if lead.account_domain}
    if lead_ids:
        await session.execute(
            update(LeadRow)
            .where(LeadRow.id.in_(lead_ids))
            .values(
                {column: None for column in PERSONAL_COLUMNS}
                | {"lead_key": "erased:" + LeadRow.id, "profile": {}, "answers": {}, "consents": []}
            )
        )
    # An account named after the person (Max Mustermann GmbH) goes with its last lead.
    still_used = await session.scalars(
        select(LeadRow.account_domain).where(LeadRow.account_domain.in_(domains)).distinct()
    )
    orphaned = domains - set(still_used)
    if orphaned:
        await session.execute(delete(AccountRow).where(AccountRow.domain.in_(orphaned)))
    removed["accounts"] = len(orphaned)
    await session.execute(
        pg_insert(SuppressionRow)
        .values([{"subject_hash": known, "erased_at": now} for known in sorted(hashes)])
        .on_conflict_do_nothing(index_elements=["subject_hash"])
    )
    removed["identifiers_suppressed"] = len(hashes)
    removed["subjects"] = len(subjects)
    receipt = ErasureReceipt(erasure_id, digest, lead_ids, removed, now, subjects)
    session.add(
        ErasureReceiptRow(
            id=receipt.id,
            subject_hash=digest,
            lead_ids=lead_ids,
            removed=removed,
            erased_at=now,
        )
    )
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
    session: AsyncSession, leads: Sequence[LeadRow]
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
    payloads = await session.scalars(
        select(InboundEventRow.payload).where(
            InboundEventRow.lead_id.in_([lead.id for lead in leads])
        )
    )
    for payload in payloads:
        try:
            event = InboundEvent.model_validate(payload)
        except ValueError:
            log.warning("a stored event of an erased lead could not be read for its ids")
            continue
        found |= identifier_hashes(event)
        lead_keys |= lead_keys_of(event)
    return found, lead_keys


async def _remove_history(session: AsyncSession, leads: Sequence[LeadRow]) -> dict[str, int]:
    lead_ids = [lead.id for lead in leads]
    keys = [record_key(lead.lead_key) for lead in leads]
    counts: dict[str, int] = {}
    for name, statement in (
        ("score_changes", delete(ScoreChangeRow).where(ScoreChangeRow.lead_id.in_(lead_ids))),
        ("stage_changes", delete(StageChangeRow).where(StageChangeRow.lead_id.in_(lead_ids))),
        ("inbound_events", delete(InboundEventRow).where(InboundEventRow.lead_id.in_(lead_ids))),
        ("outbox", delete(outbox).where(outbox.c.key.in_(keys))),
    ):
        result = await session.execute(statement)
        counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    counts["leads_anonymised"] = len(lead_ids)
    return counts


async def suppressed(connection: Connection, events: Sequence[InboundEvent]) -> set[str]:
    """The ids of ``events`` whose person was erased: they must not bring the person back.
    ``connection`` is the batch's asyncpg connection."""
    by_hash: dict[str, list[str]] = {}
    for event in events:
        for digest in identifier_hashes(event):
            by_hash.setdefault(digest, []).append(event.event_id)
    if not by_hash:
        return set()
    found = await connection.fetch(SUPPRESSED, list(by_hash))
    return {event_id for (digest,) in found for event_id in by_hash[digest]}


async def prune_event_history(session: AsyncSession, older_than: datetime) -> int:
    """Drop stored inbound events older than ``older_than`` (the retention setting). Scores
    and explanations stay; only what-if replays reach less far back."""
    result = await session.execute(
        delete(InboundEventRow).where(InboundEventRow.occurred_at < older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

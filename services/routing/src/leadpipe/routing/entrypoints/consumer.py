"""Routing's consume step: one batch from ``lead.stage-changed.v1`` and ``lead.events.v1`` (the
latter for sales feedback such as ``lead_contacted``), applied in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.unit_of_work import RoutingBatch, first_deliveries
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.handlers import (
    CONTACTED,
    HANDLERS,
    Contacted,
    contacted_key,
)
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import EnvelopeError, from_record, unwrap
from leadpipe.shared.events import InboundEvent, LeadErased, SealedInboundEvent, StageChanged
from leadpipe.shared.records import Record
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)

RoutingEvent = StageChanged | Contacted | LeadErased


def utc_now() -> datetime:
    return datetime.now(UTC)


def decode(record: Record, topics: Topics) -> RoutingEvent | None:
    """The event a record carries, when routing acts on it: stage changes, erasures and
    ``lead_contacted``. Every inbound event is decoded (a broken one is dead-lettered here as
    well), but only sales feedback is kept."""
    try:
        if record.topic == topics.stage_changed:
            envelope = from_record(record.headers, record.value)
            if LeadErased.carries(envelope.type):
                return unwrap(envelope, LeadErased)
            return unwrap(envelope, StageChanged)
        if record.topic == topics.lead_events:
            envelope = from_record(record.headers, record.value)
            inbound: Contacted = (
                unwrap(envelope, SealedInboundEvent)
                if SealedInboundEvent.carries(envelope.type)
                else unwrap(envelope, InboundEvent)
            )
            return inbound if inbound.name == CONTACTED else None
    except EnvelopeError as exc:
        # Not retried: the consume loop dead-letters it and goes on without it.
        raise UndecodableRecord(str(exc)) from exc
    return None


class RoutingBatchHandler:
    """Applies a batch in one transaction: records its events as processed, locks and reads
    the routing state once, decides every event in order in memory, and writes the result with
    one statement per table. The consume loop commits offsets only after this returns, so a
    crash replays the batch and ``processed_events`` skips what was done."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: RoutingConfig,
        on_commit: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._on_commit = on_commit
        self._clock = clock

    async def __call__(self, records: Sequence[Record]) -> None:
        events = [
            event
            for event in (decode(record, self._config.topics) for record in records)
            if event is not None
        ]
        if not events:
            return
        async with self._sessions() as session, session.begin():
            first_time = await first_deliveries(session, (event.event_id for event in events))
            if not first_time:
                _skipped(events)
                return
            batch = await RoutingBatch.under_locks(session)
            changed = [e for e in events if isinstance(e, StageChanged)]
            await batch.load_leads(
                lead_ids={e.lead_id for e in changed},
                contacted_keys={
                    contacted_key(e)
                    for e in events
                    if isinstance(e, InboundEvent | SealedInboundEvent)
                },
                erased_ids={e.lead_id for e in events if isinstance(e, LeadErased)},
                account_domains={
                    e.lead.account_domain.lower() for e in changed if e.lead.account_domain
                },
            )
            for event in events:
                if event.event_id not in first_time:
                    _skipped([event])
                    continue
                first_time.discard(event.event_id)  # a second copy in the batch is a duplicate
                HANDLERS[type(event)](batch, self._config, event, self._clock())
            await batch.write()
        self._on_commit()


def _skipped(events: Sequence[RoutingEvent]) -> None:
    for event in events:
        if isinstance(event, StageChanged):
            log.info("duplicate event skipped", extra={"event_id": event.event_id})

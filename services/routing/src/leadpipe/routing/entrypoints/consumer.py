"""Routing's consume step: one batch from ``lead.stage-changed.v1`` and ``lead.events.v1`` (the
latter for sales feedback such as ``lead_contacted``), applied in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.unit_of_work import PostgresRoutingUnitOfWork
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.routing.service.handlers import CONTACTED, Contacted, RoutingEvent, apply_batch
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import EnvelopeError, from_record, unwrap
from leadpipe.shared.events import InboundEvent, LeadErased, SealedInboundEvent, StageChanged
from leadpipe.shared.records import Record
from leadpipe.shared.topics import Topics


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
    """Applies a batch (:func:`leadpipe.routing.service.handlers.apply_batch`) in one
    transaction, which it owns, on the PostgreSQL unit of work. The consume loop commits offsets only after this returns, so a
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
            uow = await PostgresRoutingUnitOfWork.of(session)
            if not await apply_batch(uow, events, self._config, self._clock):
                return
        self._on_commit()

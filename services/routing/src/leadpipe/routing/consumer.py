"""Routing's consume step: one batch from ``lead.stage-changed.v1`` and ``lead.events.v1`` (the
latter for sales feedback such as ``lead_contacted``), applied in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.assigning import RoutingConfig
from leadpipe.routing.handlers import handle_erased, handle_inbound, handle_stage_changed
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import EnvelopeError, from_record, unwrap
from leadpipe.shared.events import InboundEvent, LeadErased, StageChanged
from leadpipe.shared.records import Record

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class RoutingBatchHandler:
    """Dispatches each record by its topic. The consume loop commits offsets only after this
    returns, so a crash replays the batch and ``processed_events`` skips what was done."""

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
        topics = self._config.topics
        async with self._sessions() as session, session.begin():
            for record in records:
                try:
                    envelope = from_record(record.headers, record.value)
                    if record.topic == topics.stage_changed and LeadErased.carries(envelope.type):
                        erased = unwrap(envelope, LeadErased)
                        await handle_erased(session, self._config, erased, self._clock())
                    elif record.topic == topics.stage_changed:
                        changed = unwrap(envelope, StageChanged)
                        await handle_stage_changed(session, self._config, changed, self._clock())
                    elif record.topic == topics.lead_events:
                        inbound = unwrap(envelope, InboundEvent)
                        await handle_inbound(session, self._config, inbound, self._clock())
                except EnvelopeError as exc:
                    # Not retried: the consume loop dead-letters it and goes on without it.
                    raise UndecodableRecord(str(exc)) from exc
        self._on_commit()

"""Scoring's consumer entrypoint: decodes a batch of records (opening sealed ones with their
subjects' keys) and applies it in one transaction that it opens and commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import cast

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.subject_keys import SubjectKeyClient
from leadpipe.scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from leadpipe.scoring.service.handlers import Decoded, apply_batch
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import CloudEvent, EnvelopeError, from_record, unwrap
from leadpipe.shared.events import InboundEvent, SealedInboundEvent
from leadpipe.shared.memory import collector_paused
from leadpipe.shared.records import Record
from leadpipe.shared.sealing import Unreadable, unseal
from leadpipe.shared.topics import Topics

log = logging.getLogger(__name__)
_SEALED = SealedInboundEvent.CE_TYPE.encode()


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
        # would walk them again and again, only to promote them (measured: a visible share of
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
            uow = await PostgresScoringUnitOfWork.open(
                session, self._topics, datetime.now(UTC), rules
            )
            await apply_batch(uow, events, rules)
        return True

"""``lead.stage-changed.v1`` events as outbox rows, serialised straight from the lead's row.

Building a :class:`StageChanged` (and its :class:`LeadSnapshot`) validates every field, then
serialises the model, then wraps it: measured, the largest cost of a form post that moves its
lead. The values come from a row the consumer has just computed, so there is nothing to
validate: the same JSON is written with orjson in the model's field order (its fields name
the record's attributes to read), and the CloudEvents headers are those :func:`wrap` gives. A
unit test holds the bytes equal to ``StageChanged(...).model_dump_json()`` and the headers to
``wrap(...).headers()``."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter

import orjson
from pydantic import BaseModel

from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.scoring.domain.lifecycle import Transition
from leadpipe.scoring.service.ids import new_id
from leadpipe.shared.envelope import JSON, SPEC_VERSION, new_traceparent
from leadpipe.shared.events import LeadSnapshot, StageChanged
from leadpipe.shared.lead_attributes import attribute_names, choices
from leadpipe.shared.outbox import OutboxRow, encode_headers
from leadpipe.shared.privacy import record_key

SOURCE = "/leadpipe/scoring"
# pydantic writes a UTC time with "Z"; orjson does so with this option.
_OPTIONS = orjson.OPT_UTC_Z


class SnapshotOf:
    """The lead as ``model`` serialises it, keys in the model's order, read from the record's
    attributes of the same names. A value outside a ``Literal`` field's choices becomes the
    field's default, as the model would refuse it."""

    def __init__(self, model: type[BaseModel]) -> None:
        self._names = attribute_names(model)
        self._get = attrgetter(*self._names)
        self._checked = tuple(
            (name, allowed, declared.default)
            for name, declared in model.model_fields.items()
            if (allowed := choices(declared.annotation)) is not None
        )

    def __call__(self, lead: LeadRecord) -> dict[str, object]:
        snapshot = dict(zip(self._names, self._get(lead), strict=True))
        for name, allowed, default in self._checked:
            if snapshot[name] not in allowed:
                snapshot[name] = default
        return snapshot


snapshot_of = SnapshotOf(LeadSnapshot)


class StageEvents:
    """Outbox rows ``(event_id, topic, key, headers JSON, payload)`` for one batch's moves,
    all stamped with the batch's time."""

    def __init__(self, topic: str, now: datetime) -> None:
        self._topic = topic
        self._now = now
        self._time = now.isoformat()  # as CloudEvent.headers() writes ce_time

    def row(
        self, lead: LeadRecord, snapshot: dict[str, object], move: Transition, cause_event_id: str
    ) -> OutboxRow:
        event_id = new_id()
        key = record_key(lead.lead_key)
        payload = orjson.dumps(
            {
                "event_id": event_id,
                "occurred_at": self._now,
                "lead_id": lead.id,
                "lead_key": key,
                "from_stage": move.from_stage,
                "to_stage": move.to_stage,
                "reason": move.reason,
                "cause_event_id": cause_event_id,
                "lead": snapshot,
            },
            option=_OPTIONS,
        )
        headers = encode_headers(
            (
                ("ce_specversion", SPEC_VERSION),
                ("ce_id", event_id),
                ("ce_source", SOURCE),
                ("ce_type", StageChanged.CE_TYPE),
                ("ce_time", self._time),
                ("content-type", JSON),
                ("traceparent", new_traceparent()),
            )
        )
        return OutboxRow(event_id, self._topic, key, headers, payload)

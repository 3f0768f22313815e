"""An assignment's row: read with one statement per batch and written back with one statement
per table (:mod:`leadpipe.routing.adapters.unit_of_work`)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from leadpipe.routing.adapters.orm import AssignmentRow
from leadpipe.routing.domain.assignment import AssignmentRecord
from leadpipe.shared.bulk import select_columns, table_of, update_rows

ASSIGNMENTS = table_of(AssignmentRow)


COLUMNS = tuple(f.name for f in fields(AssignmentRecord))
JSON_COLUMNS = ("trace", "lead")
# What an assignment that exists may have changed: closing it, its SLA clock, an erasure.
UPDATED = (
    "id",
    "status",
    "sla_state",
    "contacted_at",
    "closed_at",
    "closed_reason",
    "lead_key",
    "lead",
)
assert set(COLUMNS) == {c.name for c in ASSIGNMENTS.columns}, "orm.py and this record differ"

SELECT = f"SELECT {select_columns(ASSIGNMENTS, COLUMNS)} FROM {ASSIGNMENTS.fullname}"
# Each lookup joins its array, so that even a generic plan probes the index once per value:
# the lead's active assignments (ix_assignments_lead_id), the open ones by lead key
# (ix_assignments_active_by_lead_key) and all of an erased lead's.
LOCK_FOR_LEADS = (
    f"{SELECT} WHERE id IN ("
    f"SELECT a.id FROM unnest($1::TEXT[]) AS k(v) JOIN {ASSIGNMENTS.fullname} a"
    " ON a.lead_id = k.v WHERE a.status <> 'closed'"
    f" UNION SELECT a.id FROM unnest($2::TEXT[]) AS k(v) JOIN {ASSIGNMENTS.fullname} a"
    " ON a.lead_key = k.v WHERE a.status <> 'closed'"
    f" UNION SELECT a.id FROM unnest($3::TEXT[]) AS k(v) JOIN {ASSIGNMENTS.fullname} a"
    " ON a.lead_id = k.v"
    ") ORDER BY id FOR UPDATE"
)
# The routing clock's work, shared between instances (``SKIP LOCKED``) through partial indexes.
LOCK_DUE_SLAS = (
    f"{SELECT} WHERE sla_state = 'running' AND sla_due_at <= $1"
    " ORDER BY sla_due_at LIMIT $2 FOR UPDATE SKIP LOCKED"
)
LOCK_QUEUED = (
    f"{SELECT} WHERE status = 'queued' ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED"
)
UPDATE = update_rows(ASSIGNMENTS, "id", UPDATED[1:])
_JSON_AT = tuple(COLUMNS.index(c) for c in JSON_COLUMNS)


def record_of(row: Any) -> AssignmentRecord:
    values = list(row)
    for i in _JSON_AT:
        values[i] = orjson.loads(values[i])
    return AssignmentRecord(*values)


def inserted(record: AssignmentRecord) -> tuple[object, ...]:
    """The record's values in the order of ``COLUMNS``, JSON as text (for ``COPY``)."""
    values: list[object] = [getattr(record, c) for c in COLUMNS]
    for i in _JSON_AT:
        values[i] = orjson.dumps(values[i]).decode()
    return tuple(values)


def updated(record: AssignmentRecord) -> tuple[object, ...]:
    """The record's values in the order of ``UPDATED``, JSON as text."""
    return (
        record.id,
        record.status,
        record.sla_state,
        record.contacted_at,
        record.closed_at,
        record.closed_reason,
        record.lead_key,
        orjson.dumps(record.lead).decode(),
    )

"""Reading and locking leads' rows as :class:`LeadRecord` objects, with one statement per batch;
:mod:`unit_of_work` writes them back with one statement per table."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson

from leadpipe.scoring.adapters.orm import LeadRow
from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.shared.bulk import Connection, select_columns, table_of

LEADS = table_of(LeadRow)


COLUMNS = tuple(f.name for f in fields(LeadRecord))
JSON_COLUMNS = frozenset({"profile", "engagement_state", "answers", "consents"})
# What an update writes: everything but what a lead is found by and where it came from.
UPDATED = tuple(c for c in COLUMNS if c not in ("lead_key", "anonymous_id", "source"))
SELECT = f"SELECT {select_columns(LEADS, COLUMNS)} FROM {LEADS.fullname}"
# Each lookup joins its array, so that even a generic plan (which cannot know how many values
# an array holds) probes the index once per value instead of comparing every row with every
# value: the cost follows the batch, not the table.
LOCK_FOUND = (
    f"{SELECT} WHERE id IN ("
    f"SELECT l.id FROM unnest($1::TEXT[]) AS k(v) JOIN {LEADS.fullname} l ON l.lead_key = k.v"
    f" UNION SELECT l.id FROM unnest($2::TEXT[]) AS k(v) JOIN {LEADS.fullname} l ON l.email = k.v"
    f" UNION SELECT l.id FROM unnest($3::TEXT[]) AS k(v)"
    f" JOIN {LEADS.fullname} l ON l.anonymous_id = k.v"
    ") ORDER BY id FOR UPDATE"
)
LOCK_BY_ID = f"{SELECT} WHERE id IN (SELECT unnest($1::TEXT[])) ORDER BY id FOR UPDATE"
_JSON_AT = tuple(i for i, name in enumerate(COLUMNS) if name in JSON_COLUMNS)


def _record(row: Sequence[Any]) -> LeadRecord:
    values = list(row)
    for i in _JSON_AT:
        values[i] = orjson.loads(values[i])
    return LeadRecord(*values)


class RowValues:
    """A lead's values for ``names``, in that order, with JSON encoded for the statement."""

    def __init__(self, names: Sequence[str]) -> None:
        self._get = attrgetter(*names)
        self._json_at = tuple(i for i, name in enumerate(names) if name in JSON_COLUMNS)

    def __call__(self, lead: LeadRecord) -> tuple[object, ...]:
        values = list(self._get(lead))
        for i in self._json_at:
            values[i] = orjson.dumps(values[i]).decode()
        return tuple(values)


async def lock_leads(
    connection: Connection,
    keys: Collection[str],
    emails: Collection[str],
    anonymous: Collection[str],
) -> list[LeadRecord]:
    """The leads with one of these keys, emails or anonymous ids, locked in id order (one
    lock order for every consumer: no deadlocks)."""
    rows = await connection.fetch(LOCK_FOUND, list(keys), list(emails), list(anonymous))
    return [_record(row) for row in rows]


async def lock_by_id(connection: Connection, ids: Collection[str]) -> list[LeadRecord]:
    rows = await connection.fetch(LOCK_BY_ID, list(ids))
    return [_record(row) for row in rows]


async def lock_due(connection: Connection, now: datetime, limit: int) -> list[LeadRecord]:
    """Leads whose recycling moment has come, soonest first; leads another sweeper holds are
    skipped, not waited for."""
    rows = await connection.fetch(
        f"{SELECT} WHERE recycle_at <= $1 ORDER BY recycle_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [_record(row) for row in rows]

"""A second baseline for scoring: raw asyncpg writing exactly the rows the consumer wrote.

The first baseline upserts one leads row per event. Applying an event takes more than that:
its explained score changes, the stage history, the outbox events, the processed id and the
stored event for what-if replays, all in the batch's transaction. This baseline takes those
rows as the consumer left them and writes them again, 500 events per transaction, into copies
of the tables (same indexes, same foreign keys) with the plainest fast statements there are:
one unnest upsert for leads and processed ids, one COPY per append-only table. Beside it, the
ratio tells what leadpipe's own work costs on top of what PostgreSQL needs for the same data.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import orjson

# Copies of scoring's tables; LIKE leaves foreign keys out, so they are added back.
TABLES = (
    "leads",
    "processed_events",
    "score_changes",
    "stage_changes",
    "outbox",
    "inbound_events",
)
FOREIGN_KEYS = ("score_changes", "stage_changes")
LEAD_COLUMNS = (
    "id",
    "lead_key",
    "email",
    "anonymous_id",
    "stage",
    "fit",
    "engagement",
    "qualification",
    "grade",
    "temperature",
    "profile",
    "engagement_state",
    "answers",
    "hand_raiser",
    "recycle_at",
    "rules_version",
    "source",
    "updated_at",
)
SCORE_COLUMNS = ("lead_id", "event_id", "component", "code", "delta", "reason", "rules_version")
STAGE_COLUMNS = ("lead_id", "event_id", "from_stage", "to_stage", "reason", "refused")
OUTBOX_COLUMNS = ("event_id", "topic", "key", "headers", "payload")
INBOUND_COLUMNS = ("event_id", "lead_id", "occurred_at", "payload")
LEAD_UPSERT = """
INSERT INTO bench.same_leads (id, lead_key, email, anonymous_id, stage, fit, engagement,
    qualification, grade, temperature, profile, engagement_state, answers, hand_raiser,
    recycle_at, rules_version, source, updated_at)
SELECT id, lead_key, email, anonymous_id, stage, fit, engagement, qualification, grade,
    temperature, profile::jsonb, engagement_state::jsonb, answers::jsonb, hand_raiser,
    recycle_at, rules_version, source, updated_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[],
    $8::int[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bool[],
    $15::timestamptz[], $16::text[], $17::text[], $18::timestamptz[])
    AS t(id, lead_key, email, anonymous_id, stage, fit, engagement, qualification, grade,
    temperature, profile, engagement_state, answers, hand_raiser, recycle_at, rules_version,
    source, updated_at)
ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage, fit = EXCLUDED.fit,
    engagement = EXCLUDED.engagement, qualification = EXCLUDED.qualification,
    grade = EXCLUDED.grade, temperature = EXCLUDED.temperature, profile = EXCLUDED.profile,
    engagement_state = EXCLUDED.engagement_state, answers = EXCLUDED.answers,
    hand_raiser = EXCLUDED.hand_raiser, recycle_at = EXCLUDED.recycle_at,
    updated_at = EXCLUDED.updated_at
"""
PROCESSED_INSERT = (
    "INSERT INTO bench.same_processed_events (event_id) SELECT unnest($1::text[])"
    " ON CONFLICT DO NOTHING"
)
Row = tuple[object, ...]


@dataclass
class Transaction:
    """What the consumer wrote for one batch of events."""

    event_ids: list[str] = field(default_factory=list)
    leads: dict[str, Row] = field(default_factory=dict)
    score_changes: list[Row] = field(default_factory=list)
    stage_changes: list[Row] = field(default_factory=list)
    outbox: list[Row] = field(default_factory=list)
    inbound: list[Row] = field(default_factory=list)


async def create_tables(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE SCHEMA IF NOT EXISTS bench")
        for table in TABLES:
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS bench.same_{table}"
                f" (LIKE scoring.{table} INCLUDING ALL)"
            )
        for table in FOREIGN_KEYS:
            await connection.execute(
                f"ALTER TABLE bench.same_{table} DROP CONSTRAINT IF EXISTS same_{table}_lead;"
                f" ALTER TABLE bench.same_{table} ADD CONSTRAINT same_{table}_lead"
                " FOREIGN KEY (lead_id) REFERENCES bench.same_leads (id)"
            )
    finally:
        await connection.close()


async def rows_written(
    dsn: str, event_ids: Sequence[str], outbox_after: int, batch: int
) -> list[Transaction]:
    """The rows the consumer wrote for ``event_ids`` (outbox rows: those after id
    ``outbox_after``), split into transactions of ``batch`` events as the consume loop did."""
    position = {event_id: i for i, event_id in enumerate(event_ids)}
    transactions = [Transaction() for _ in range(0, len(event_ids), batch)]

    def of(event_id: object) -> Transaction:
        return transactions[position[str(event_id)] // batch]

    ids = list(event_ids)
    connection = await asyncpg.connect(dsn)
    try:
        for event_id in ids:
            of(event_id).event_ids.append(event_id)
        leads_of: dict[str, set[int]] = defaultdict(set)
        for row in await connection.fetch(
            f"SELECT {', '.join(INBOUND_COLUMNS[:-1])}, payload::text"
            " FROM scoring.inbound_events WHERE event_id = ANY($1::text[])",
            ids,
        ):
            of(row["event_id"]).inbound.append(tuple(row))
            leads_of[row["lead_id"]].add(position[row["event_id"]] // batch)
        for row in await connection.fetch(
            f"SELECT {', '.join(SCORE_COLUMNS)} FROM scoring.score_changes"
            " WHERE event_id = ANY($1::text[])",
            ids,
        ):
            of(row["event_id"]).score_changes.append(tuple(row))
            # A merged visitor's changes name its own lead, whose events moved to the known one.
            leads_of[row["lead_id"]].add(position[row["event_id"]] // batch)
        for row in await connection.fetch(
            f"SELECT {', '.join(STAGE_COLUMNS)} FROM scoring.stage_changes"
            " WHERE event_id = ANY($1::text[])",
            ids,
        ):
            of(row["event_id"]).stage_changes.append(tuple(row))
            leads_of[row["lead_id"]].add(position[row["event_id"]] // batch)
        for row in await connection.fetch(
            "SELECT event_id, topic, key, headers::text, payload FROM scoring.outbox"
            " WHERE id > $1 ORDER BY id",
            outbox_after,
        ):
            cause = orjson.loads(row["payload"]).get("cause_event_id")
            if cause in position:
                of(cause).outbox.append(tuple(row))
        lead_select = ", ".join(
            f"{c}::text" if c in ("profile", "engagement_state", "answers") else c
            for c in LEAD_COLUMNS
        )
        for row in await connection.fetch(
            f"SELECT {lead_select} FROM scoring.leads WHERE id = ANY($1::text[])", list(leads_of)
        ):
            for index in leads_of[row["id"]]:
                transactions[index].leads[row["id"]] = tuple(row)
    finally:
        await connection.close()
    return transactions


async def max_outbox_id(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT coalesce(max(id), 0) FROM scoring.outbox"))
    finally:
        await connection.close()


async def timed_writes(dsn: str, transactions: Sequence[Transaction]) -> float:
    """Seconds to write ``transactions``, each committed on its own."""
    connection = await asyncpg.connect(dsn)
    try:
        start = time.monotonic()
        for writes in transactions:
            async with connection.transaction():
                await connection.execute(PROCESSED_INSERT, writes.event_ids)
                if writes.leads:
                    await connection.execute(
                        LEAD_UPSERT,
                        *(list(column) for column in zip(*writes.leads.values(), strict=True)),
                    )
                for table, columns, rows in (
                    ("same_score_changes", SCORE_COLUMNS, writes.score_changes),
                    ("same_stage_changes", STAGE_COLUMNS, writes.stage_changes),
                    ("same_outbox", OUTBOX_COLUMNS, writes.outbox),
                    ("same_inbound_events", INBOUND_COLUMNS, writes.inbound),
                ):
                    if rows:
                        await connection.copy_records_to_table(
                            table, schema_name="bench", columns=list(columns), records=rows
                        )
        return time.monotonic() - start
    finally:
        await connection.close()

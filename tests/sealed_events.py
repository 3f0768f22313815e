"""Opening sealed inbound events in tests, with the data keys straight from ingest's table
(as scoring gets them through ingest's key API)."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from leadpipe.shared.envelope import from_record, unwrap
from leadpipe.shared.events import InboundEvent, SealedInboundEvent
from leadpipe.shared.records import Record
from leadpipe.shared.sealing import unseal


def dsn_of(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def data_keys(database_url: str, subjects: Collection[str]) -> dict[str, bytes | None]:
    connection = await asyncpg.connect(dsn_of(database_url))
    try:
        rows = await connection.fetch(
            "SELECT subject, data_key FROM ingest.subject_keys WHERE subject = ANY($1::TEXT[])",
            list(subjects),
        )
    finally:
        await connection.close()
    found = {row["subject"]: row["data_key"] for row in rows}
    return {subject: found.get(subject) for subject in subjects}


async def opened(records: Collection[Record], database_url: str) -> list[InboundEvent | None]:
    """Each record's inbound event, None where its key is gone."""
    envelopes = [unwrap(from_record(r.headers, r.value), SealedInboundEvent) for r in records]
    keys = await data_keys(database_url, {e.subject for e in envelopes})
    events: list[InboundEvent | None] = []
    for envelope in envelopes:
        key = keys[envelope.subject]
        events.append(
            None
            if key is None
            else InboundEvent.model_validate_json(unseal(key, envelope.subject, envelope.sealed))
        )
    return events

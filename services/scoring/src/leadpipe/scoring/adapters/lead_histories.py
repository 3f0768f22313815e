"""Every live lead with its stored events, streamed from PostgreSQL for what-if replays."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.lead_record import LEADS
from leadpipe.scoring.adapters.orm import InboundEventRow
from leadpipe.scoring.service.whatif import HistoryRow
from leadpipe.shared.bulk import Connection, table_of

PREFETCH = 2000  # rows the cursor fetches per round trip

COUNT = f"SELECT count(*) FROM {LEADS.fullname} WHERE merged_into IS NULL"
# Every live lead with its events in replay order, as one stream: a merge of two index
# scans, so memory holds one lead's history, not the table's. The payload comes as text and
# is parsed once, by the model, instead of into a dict first and then into the model.
HISTORIES = (
    f"SELECT l.id, l.email, l.stage, e.payload::TEXT FROM {LEADS.fullname} l"
    f" LEFT JOIN {table_of(InboundEventRow).fullname} e ON e.lead_id = l.id"
    " WHERE l.merged_into IS NULL ORDER BY l.id, e.occurred_at, e.seq"
)


class LeadHistories:
    """Reads only, and must be used inside the caller's transaction (the stream is a
    cursor)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @classmethod
    async def of(cls, session: AsyncSession) -> LeadHistories:
        return cls(await Connection.of(session))

    async def count(self) -> int:
        return int(await self._connection.fetchval(COUNT))

    def rows(self) -> AsyncIterator[HistoryRow]:
        # The driver's cursor itself, its records unpacking as the rows: no layer per row.
        cursor: AsyncIterator[HistoryRow] = self._connection.cursor(HISTORIES, prefetch=PREFETCH)
        return cursor

"""What every consuming service keeps to apply each event once: the ids of the events it
has processed, in its own schema, written in the same transaction as what they caused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Table, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from leadpipe.shared.bulk import insert_rows


class ProcessedEventColumns:
    """The ``processed_events`` table, mixed into a service's ORM base: a consumed event's id,
    whose primary key makes a second delivery a no-op."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


def mark_processed(table: Table) -> str:
    """Records the event ids of its one array argument as processed and returns those that
    were not processed before. Callers pass the ids sorted, so that two instances given the
    same events take the row locks in one order and cannot deadlock."""
    return insert_rows(table, ("event_id",), "ON CONFLICT (event_id) DO NOTHING RETURNING event_id")

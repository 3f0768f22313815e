"""Routing's tables, all in the ``routing`` schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadpipe.shared.db import make_metadata
from leadpipe.shared.outbox import outbox_table

SCHEMA = "routing"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


class RepRow(Base):
    __tablename__ = "reps"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RotationCursorRow(Base):
    """The last rep chosen per pool; locked with FOR UPDATE while choosing the next one, so that
    any number of routing instances share one fair rotation."""

    __tablename__ = "rotation_cursors"

    pool: Mapped[str] = mapped_column(Text, primary_key=True)
    last_rep_id: Mapped[str | None] = mapped_column(Text)


class AssignmentRow(Base):
    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_lead_id", "lead_id", "created_at"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    lead_id: Mapped[str] = mapped_column(Text)
    lead_key: Mapped[str] = mapped_column(Text)
    rep_id: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text)
    pool: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    trace: Mapped[dict[str, Any]] = mapped_column(JSONB)
    cause_event_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessedEventRow(Base):
    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


outbox = outbox_table(Base.metadata)

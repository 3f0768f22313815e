"""Routing's tables, all in the ``routing`` schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadpipe.shared.auth import api_tokens_table
from leadpipe.shared.bookkeeping import ProcessedEventColumns
from leadpipe.shared.db import make_metadata
from leadpipe.shared.outbox import outbox_table

SCHEMA = "routing"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


class RepRow(Base):
    """A sales rep. Rows are locked FOR UPDATE (in id order) while a lead is routed, so that
    capacity counts and rotations stay right with several routing instances."""

    __tablename__ = "reps"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    territories: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    segments: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    languages: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    capacity: Mapped[int | None] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    time_zone: Mapped[str] = mapped_column(Text, server_default=text("'UTC'"))
    working_hours: Mapped[str | None] = mapped_column(Text)
    holiday_calendar: Mapped[str | None] = mapped_column(Text)
    out_of_office: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PoolRow(Base):
    """A pool; ``max_reassignments`` and ``escalate_to`` (a rep id) bound SLA re-assignment."""

    __tablename__ = "pools"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    role: Mapped[str] = mapped_column(Text)
    strategy: Mapped[str] = mapped_column(Text)
    members: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    match_coverage: Mapped[bool] = mapped_column(default=True)
    max_reassignments: Mapped[int | None] = mapped_column(Integer)
    escalate_to: Mapped[str | None] = mapped_column(Text)


class RoutingRuleRow(Base):
    """One routing rule; ``position`` orders them (first match wins)."""

    __tablename__ = "routing_rules"

    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    pool: Mapped[str] = mapped_column(Text)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB)


class AccountOwnerRow(Base):
    __tablename__ = "account_owners"

    account_domain: Mapped[str] = mapped_column(Text, primary_key=True)
    rep_id: Mapped[str] = mapped_column(Text)


class RotationCursorRow(Base):
    """A pool's rotation: the last rep chosen and weighted round-robin's credits; locked with
    FOR UPDATE while choosing the next one, so that any number of routing instances share one
    fair rotation."""

    __tablename__ = "rotation_cursors"

    pool: Mapped[str] = mapped_column(Text, primary_key=True)
    last_rep_id: Mapped[str | None] = mapped_column(Text)
    credits: Mapped[dict[str, int]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class AssignmentRow(Base):
    """A lead given to a rep (status ``open``), waiting in the fallback queue (``queued``), or
    done with (``closed``). The SLA timer lives here: due running timers are found through
    ``ix_assignments_sla_due``, queued leads through ``ix_assignments_queued``."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_lead_id", "lead_id", "created_at"),
        Index(
            "ix_assignments_sla_due",
            "sla_due_at",
            postgresql_where=text("sla_state = 'running'"),
        ),
        Index("ix_assignments_queued", "created_at", postgresql_where=text("status = 'queued'")),
        Index("ix_assignments_open_by_rep", "rep_id", postgresql_where=text("status = 'open'")),
        Index(
            "ix_assignments_active_by_lead_key",
            "lead_key",
            postgresql_where=text("status <> 'closed'"),
        ),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    lead_id: Mapped[str] = mapped_column(Text)
    lead_key: Mapped[str] = mapped_column(Text)
    rep_id: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'open'"))
    stage: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, server_default=text("'ae'"))
    pool: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    trace: Mapped[dict[str, Any]] = mapped_column(JSONB)
    lead: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    cause_event_id: Mapped[str] = mapped_column(Text)
    previous_assignment_id: Mapped[str | None] = mapped_column(Text)
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_state: Mapped[str | None] = mapped_column(Text)
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessedEventRow(ProcessedEventColumns, Base):
    pass


class ErasedLeadRow(Base):
    """A lead whose person was erased: later events about it are ignored."""

    __tablename__ = "erased_leads"

    lead_id: Mapped[str] = mapped_column(Text, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


outbox = outbox_table(Base.metadata)
api_tokens = api_tokens_table(Base.metadata)

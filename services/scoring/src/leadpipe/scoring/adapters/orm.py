"""Scoring's tables, all in the ``scoring`` schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Integer, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadpipe.shared.db import make_metadata
from leadpipe.shared.outbox import outbox_table

SCHEMA = "scoring"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


class LeadRow(Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    lead_key: Mapped[str] = mapped_column(Text, unique=True)
    email: Mapped[str | None] = mapped_column(Text, unique=True)
    anonymous_id: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    company_size: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    account_domain: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text)
    fit: Mapped[int] = mapped_column(Integer, default=0)
    engagement: Mapped[int] = mapped_column(Integer, default=0)
    qualification: Mapped[int] = mapped_column(Integer, default=0)
    budget: Mapped[str] = mapped_column(Text, default="unknown")
    authority: Mapped[str] = mapped_column(Text, default="unknown")
    hand_raiser: Mapped[bool] = mapped_column(default=False)
    rules_version: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ScoreChangeRow(Base):
    """One explained change of one score component, and the event behind it."""

    __tablename__ = "score_changes"
    __table_args__ = (Index("ix_score_changes_lead_id", "lead_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    event_id: Mapped[str] = mapped_column(Text)
    component: Mapped[str] = mapped_column(Text)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    rules_version: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StageChangeRow(Base):
    """Every stage move, and every refused one with the reason it was refused."""

    __tablename__ = "stage_changes"
    __table_args__ = (Index("ix_stage_changes_lead_id", "lead_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    event_id: Mapped[str] = mapped_column(Text)
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    refused: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessedEventRow(Base):
    """A consumed event's id: the primary key makes a second delivery a no-op."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


outbox = outbox_table(Base.metadata)

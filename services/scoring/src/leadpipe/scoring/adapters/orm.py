"""Scoring's tables, all in the ``scoring`` schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadpipe.shared.auth import api_tokens_table
from leadpipe.shared.bookkeeping import ProcessedEventColumns
from leadpipe.shared.db import make_metadata
from leadpipe.shared.outbox import outbox_table

SCHEMA = "scoring"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


class LeadRow(Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_updated_at", "updated_at", "id"),
        Index("ix_leads_stage", "stage"),
        Index("ix_leads_anonymous_id", "anonymous_id"),
        # Leads waiting for decay to take them below the MQL threshold, soonest first.
        Index("ix_leads_recycle_at", "recycle_at", postgresql_where=text("recycle_at IS NOT NULL")),
    )

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
    grade: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[str] = mapped_column(Text, default="cold")
    profile: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    engagement_state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The person's consent records, kept as long as the lead (raw events are pruned).
    consents: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    hand_raiser: Mapped[bool] = mapped_column(default=False)
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recycle_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(Text)
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
    code: Mapped[str] = mapped_column(Text, default="")
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


class ProcessedEventRow(ProcessedEventColumns, Base):
    pass


class RulesVersionRow(Base):
    """A rules file as it was stored; at most one row is the active version."""

    __tablename__ = "rules_versions"
    __table_args__ = (
        Index("uq_rules_versions_active", "active", unique=True, postgresql_where=text("active")),
    )

    version: Mapped[str] = mapped_column(Text, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_text: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboundEventRow(Base):
    """An applied inbound event, kept so that a draft rules version can be replayed."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        Index("ix_inbound_events_lead_id", "lead_id", "occurred_at", "seq"),
        # Retention prunes by age.
        Index("ix_inbound_events_occurred_at", "occurred_at"),
    )

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity())
    lead_id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class AccountRow(Base):
    """A company, known by its email domain; free-mail domains never form one."""

    __tablename__ = "accounts"

    domain: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    traits: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SuppressionRow(Base):
    """An identifier of a person erased on request: events carrying it are dropped. The
    hash of an email, or of a kind-prefixed user id, anonymous id or lead key."""

    __tablename__ = "suppressions"

    subject_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ErasureReceiptRow(Base):
    """Proof that an erasure ran, and what it removed; holds no personal data."""

    __tablename__ = "erasure_receipts"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(Text)
    lead_ids: Mapped[list[str]] = mapped_column(JSONB)
    removed: Mapped[dict[str, int]] = mapped_column(JSONB)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
api_tokens = api_tokens_table(Base.metadata)

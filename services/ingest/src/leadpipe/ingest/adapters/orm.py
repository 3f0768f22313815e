"""Ingest's tables, in the ``ingest`` schema: the registered sources, and the data keys that
seal each person's events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadpipe.shared.db import make_metadata

SCHEMA = "ingest"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


class SourceRow(Base):
    """A sender of events. Write keys and tokens are kept only as sha256 hashes; an HMAC secret
    that ingest needs in clear to verify signatures is kept Fernet-encrypted."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SubjectKeyRow(Base):
    """The data key that seals a subject's events (a subject is a pseudonymous lead key).
    Erasure shreds it: ``data_key`` NULL, the row kept as a tombstone so that the subject's
    later events are not published (and a new key is not made)."""

    __tablename__ = "subject_keys"

    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    data_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

"""The source registry in PostgreSQL: written by the CLI, read in bulk by ingest's refresher.
Each change is announced on ``CHANGES_CHANNEL`` in its own transaction, so ingest reloads as it
commits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.ingest.adapters.orm import SourceRow
from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.domain.providers import PROVIDERS, SOURCE_KINDS, Credential, CredentialRequest
from leadpipe.ingest.domain.sources import Source, SourceKind, key_hash

CHANGES_CHANNEL = "leadpipe_ingest_sources"


class SourceExists(ValueError):
    pass


@dataclass(frozen=True)
class NewSource:
    """A created source and the credential shown once to whoever created it."""

    name: str
    kind: str
    credential: str
    credential_kind: str


@dataclass(frozen=True)
class SourceOptions:
    allowed_origins: tuple[str, ...] = ()
    thank_you_url: str | None = None
    # A webhook sender that cannot sign gets a token (URL or Basic password) instead.
    unsigned: bool = False
    client_secret: str | None = None


class UnknownKind(ValueError):
    pass


def _credential(kind: str, options: SourceOptions) -> Credential:
    if kind == SourceKind.SEGMENT:
        return Credential(secrets.token_urlsafe(32), "write key", hashed=True)
    if kind == SourceKind.FORM:
        return Credential("", "none (forms are public)", hashed=False)
    provider = PROVIDERS.get(kind)
    if provider is None:
        raise UnknownKind(f"{kind!r} is not a source kind: use one of {', '.join(SOURCE_KINDS)}")
    return provider.new_credential(CredentialRequest(options.unsigned, options.client_secret))


async def add_source(
    session: AsyncSession, box: SecretBox, name: str, kind: str, options: SourceOptions
) -> NewSource:
    credential = _credential(kind, options)
    row = SourceRow(
        name=name,
        kind=str(kind),
        key_hash=key_hash(credential.value) if credential.hashed else None,
        secret_encrypted=box.seal(credential.value)
        if credential.value and not credential.hashed
        else None,
        options={
            "allowed_origins": list(options.allowed_origins),
            "thank_you_url": options.thank_you_url,
        },
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise SourceExists(f"a source named {name!r} exists already") from exc
    await _announce(session, name)
    return NewSource(name, str(kind), credential.value, credential.label)


async def _announce(session: AsyncSession, name: str) -> None:
    """Delivered to the listeners when the transaction commits, and never if it rolls back."""
    await session.execute(
        text("SELECT pg_notify(:channel, :name)"), {"channel": CHANGES_CHANNEL, "name": name}
    )


async def all_sources(session: AsyncSession) -> list[SourceRow]:
    return list((await session.scalars(select(SourceRow).order_by(SourceRow.name))).all())


async def revoke_source(session: AsyncSession, name: str, at: datetime) -> bool:
    """False when no active source has that name."""
    row = await session.get(SourceRow, name)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = at
    await _announce(session, name)
    return True


def as_source(row: SourceRow, box: SecretBox) -> Source | None:
    """The active source a row describes; None when revoked or its secret cannot be opened."""
    if row.revoked_at is not None:
        return None
    secret = None
    if row.secret_encrypted is not None:
        secret = box.open(row.secret_encrypted)
        if secret is None:
            return None
    origins = row.options.get("allowed_origins")
    thank_you = row.options.get("thank_you_url")
    return Source(
        name=row.name,
        kind=row.kind,
        key_hash=row.key_hash,
        secret=secret,
        allowed_origins=frozenset(o for o in origins if isinstance(o, str))
        if isinstance(origins, list)
        else frozenset(),
        thank_you_url=thank_you if isinstance(thank_you, str) else None,
    )

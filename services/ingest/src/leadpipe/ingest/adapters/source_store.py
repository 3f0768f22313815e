"""The source registry in PostgreSQL: written by the CLI, read in bulk by ingest's refresher."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.ingest.adapters.orm import SourceRow
from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.domain.signatures import SECRET_PREFIX
from leadpipe.ingest.domain.sources import Source, SourceKind, key_hash


class SourceExists(ValueError):
    pass


@dataclass(frozen=True)
class NewSource:
    """A created source and the credential shown once to whoever created it."""

    name: str
    kind: SourceKind
    credential: str
    credential_kind: str


@dataclass(frozen=True)
class SourceOptions:
    allowed_origins: tuple[str, ...] = ()
    thank_you_url: str | None = None
    # A webhook sender that cannot sign gets a token (URL or Basic password) instead.
    unsigned: bool = False
    client_secret: str | None = None


def _credential(kind: SourceKind, options: SourceOptions) -> tuple[str, str]:
    if kind is SourceKind.SEGMENT:
        return secrets.token_urlsafe(32), "write key"
    if kind is SourceKind.FORM:
        return "", "none (forms are public)"
    if kind is SourceKind.WEBHOOK and options.unsigned:
        return secrets.token_urlsafe(32), "token (?token=… or Basic password)"
    if kind is SourceKind.WEBHOOK:
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode(), "secret"
    return options.client_secret or secrets.token_urlsafe(32), "client secret"


async def add_source(
    session: AsyncSession, box: SecretBox, name: str, kind: SourceKind, options: SourceOptions
) -> NewSource:
    credential, credential_kind = _credential(kind, options)
    hashed = kind is SourceKind.SEGMENT or (kind is SourceKind.WEBHOOK and options.unsigned)
    row = SourceRow(
        name=name,
        kind=kind.value,
        key_hash=key_hash(credential) if hashed else None,
        secret_encrypted=box.seal(credential) if credential and not hashed else None,
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
    return NewSource(name, kind, credential, credential_kind)


async def all_sources(session: AsyncSession) -> list[SourceRow]:
    return list((await session.scalars(select(SourceRow).order_by(SourceRow.name))).all())


async def revoke_source(session: AsyncSession, name: str, at: datetime) -> bool:
    """False when no active source has that name."""
    row = await session.get(SourceRow, name)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = at
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
        kind=SourceKind(row.kind),
        key_hash=row.key_hash,
        secret=secret,
        allowed_origins=frozenset(o for o in origins if isinstance(o, str))
        if isinstance(origins, list)
        else frozenset(),
        thank_you_url=thank_you if isinstance(thank_you, str) else None,
    )

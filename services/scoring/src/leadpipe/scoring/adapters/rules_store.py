"""The rules versions in PostgreSQL: which one is active, storing and activating drafts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.scoring.adapters.orm import RulesVersionRow
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.rules.loader import default_rules, parse_document, rules_from_document


class RulesCache:
    """The active rules, parsed once per version: a batch costs one small query."""

    def __init__(self) -> None:
        self._parsed: dict[str, Rules] = {}
        self._default = default_rules()

    async def active(self, session: AsyncSession) -> Rules:
        version = (
            await session.execute(select(RulesVersionRow.version).where(RulesVersionRow.active))
        ).scalar_one_or_none()
        if version is None:
            return self._default
        if version not in self._parsed:
            document = (
                await session.execute(
                    select(RulesVersionRow.document).where(RulesVersionRow.version == version)
                )
            ).scalar_one()
            self._parsed[version] = rules_from_document(document)
        return self._parsed[version]


class VersionConflict(ValueError):
    """The version name is taken by a different rules text."""


async def store_version(session: AsyncSession, text: str, file: str) -> Rules:
    """Validate and store a rules file (inactive). Storing the same text again is a no-op;
    another text under a version that is already taken is refused."""
    document = parse_document(text, file)
    rules = rules_from_document(document)
    existing = (
        await session.execute(
            select(RulesVersionRow.source_text).where(RulesVersionRow.version == rules.version)
        )
    ).scalar_one_or_none()
    if existing is not None and existing != text:
        raise VersionConflict(
            f"version '{rules.version}' is already stored with other rules; give this file a "
            "new version"
        )
    await session.execute(
        pg_insert(RulesVersionRow)
        .values(version=rules.version, document=document, source_text=text, active=False)
        .on_conflict_do_nothing(index_elements=["version"])
    )
    return rules


async def activate(session: AsyncSession, text: str, file: str, now: datetime) -> Rules:
    rules = await store_version(session, text, file)
    await session.execute(
        update(RulesVersionRow).where(RulesVersionRow.active).values(active=False)
    )
    await session.execute(
        update(RulesVersionRow)
        .where(RulesVersionRow.version == rules.version)
        .values(active=True, activated_at=now)
    )
    return rules

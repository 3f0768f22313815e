"""Rows ↔ domain objects, and the locked reads routing decisions are made on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from leadpipe.routing.adapters.orm import (
    AccountOwnerRow,
    AssignmentRow,
    PoolRow,
    RepRow,
    RotationCursorRow,
    RoutingRuleRow,
)
from leadpipe.routing.domain.calendar import (
    DateRange,
    WeeklyHours,
    WorkCalendar,
    parse_holiday_calendar,
)
from leadpipe.routing.domain.reps import LeadProfile, Rep, Role
from leadpipe.routing.domain.rules import Conditions, Pool, RoutingRule, Strategy
from leadpipe.routing.domain.strategies import Rotation

CACHE_KEY = "routing.transaction_cache"


def calendar_of(row: RepRow) -> WorkCalendar:
    country, subdivision = (
        parse_holiday_calendar(row.holiday_calendar) if row.holiday_calendar else (None, None)
    )
    return WorkCalendar(
        time_zone=row.time_zone,
        hours=WeeklyHours.parse(row.working_hours) if row.working_hours else None,
        holiday_country=country,
        holiday_subdivision=subdivision,
        out_of_office=tuple(DateRange.parse(period) for period in row.out_of_office),
    )


def rep_of(row: RepRow) -> Rep:
    role: Role = "bdr" if row.role == "bdr" else "ae"
    return Rep(
        id=row.id,
        name=row.name,
        email=row.email,
        role=role,
        active=row.active,
        territories=frozenset(t.upper() for t in row.territories),
        segments=frozenset(row.segments),
        languages=frozenset(lang.lower() for lang in row.languages),
        capacity=row.capacity,
        weight=row.weight,
        calendar=calendar_of(row),
    )


def pool_of(row: PoolRow) -> Pool:
    role: Role = "bdr" if row.role == "bdr" else "ae"
    strategy: Strategy = (
        "weighted-round-robin"
        if row.strategy == "weighted-round-robin"
        else "least-loaded"
        if row.strategy == "least-loaded"
        else "round-robin"
    )
    return Pool(row.name, role, strategy, frozenset(row.members), row.match_coverage)


def conditions_of(stored: Mapping[str, Any]) -> Conditions:
    """Stored conditions were validated by the API: ``{attribute: [values]}``, plus
    ``company_size: {min, max}`` and ``hand_raiser: bool``."""
    size = stored.get("company_size") or {}
    return Conditions(
        one_of={
            name: frozenset(str(v).lower() for v in values)
            for name, values in stored.items()
            if name not in ("company_size", "hand_raiser")
        },
        company_size_min=size.get("min"),
        company_size_max=size.get("max"),
        hand_raiser=stored.get("hand_raiser"),
    )


def rule_of(row: RoutingRuleRow) -> RoutingRule:
    return RoutingRule(row.name, row.pool, conditions_of(row.conditions))


def lead_as_json(lead: LeadProfile) -> dict[str, Any]:
    return asdict(lead)


def lead_from_json(stored: Mapping[str, Any]) -> LeadProfile:
    return LeadProfile(**stored)


@dataclass
class TransactionCache:
    """What every decision of one transaction reads alike. The transaction holds the locks on
    the reps (and rotations), so nobody else can change them until it commits; a batch of
    events then reads them once instead of once per event."""

    reps: dict[str, RepRow] | None = None
    rules: tuple[list[RoutingRule], dict[str, Pool]] | None = None
    open_leads: dict[str, int] | None = None


def cache_of(session: AsyncSession) -> TransactionCache:
    cache = session.info.get(CACHE_KEY)
    if not isinstance(cache, TransactionCache):
        cache = TransactionCache()
        session.info[CACHE_KEY] = cache
        # A session lives for one transaction here; never carry the cache past it.
        event.listen(session.sync_session, "after_transaction_end", _drop_cache, once=True)
    return cache


def _drop_cache(session: Session, _transaction: object) -> None:
    session.info.pop(CACHE_KEY, None)


async def lock_reps(session: AsyncSession) -> dict[str, RepRow]:
    """Lock every rep row, in id order. Every routing decision takes this lock first (before
    any blocking lock on an assignment row), so decisions are serialised without deadlocks and
    capacity counts and rotations cannot be read stale by a second routing instance. Locked
    once per transaction."""
    cache = cache_of(session)
    if cache.reps is None:
        rows = (
            await session.execute(select(RepRow).order_by(RepRow.id).with_for_update())
        ).scalars()
        cache.reps = {row.id: row for row in rows}
    return cache.reps


async def open_lead_counts(session: AsyncSession) -> dict[str, int]:
    """Open leads per rep; counted once per transaction, then kept by ``opened`` and
    ``released`` (an assignment that opens or closes in it)."""
    cache = cache_of(session)
    if cache.open_leads is None:
        rows = await session.execute(
            select(AssignmentRow.rep_id, func.count())
            .where(AssignmentRow.status == "open", AssignmentRow.rep_id.is_not(None))
            .group_by(AssignmentRow.rep_id)
        )
        cache.open_leads = {str(rep_id): int(count) for rep_id, count in rows.all()}
    return dict(cache.open_leads)


def opened(session: AsyncSession, rep_id: str) -> None:
    counts = cache_of(session).open_leads
    if counts is not None:
        counts[rep_id] = counts.get(rep_id, 0) + 1


def released(session: AsyncSession, assignment: AssignmentRow) -> None:
    """Call when an open assignment closes: its rep has one open lead less."""
    counts = cache_of(session).open_leads
    if counts is not None and assignment.rep_id is not None:
        counts[assignment.rep_id] = max(0, counts.get(assignment.rep_id, 0) - 1)


async def load_rules(session: AsyncSession) -> tuple[list[RoutingRule], dict[str, Pool]]:
    cache = cache_of(session)
    if cache.rules is None:
        rules = (
            await session.execute(select(RoutingRuleRow).order_by(RoutingRuleRow.position))
        ).scalars()
        pools = (await session.execute(select(PoolRow))).scalars()
        cache.rules = ([rule_of(r) for r in rules], {p.name: pool_of(p) for p in pools})
    return cache.rules


async def locked_rotations(session: AsyncSession) -> dict[str, RotationCursorRow]:
    rows = (
        await session.execute(
            select(RotationCursorRow).order_by(RotationCursorRow.pool).with_for_update()
        )
    ).scalars()
    return {row.pool: row for row in rows}


def rotation_of(row: RotationCursorRow) -> Rotation:
    return Rotation(row.last_rep_id, dict(row.credits))


async def account_owner(session: AsyncSession, account_domain: str | None) -> str | None:
    if not account_domain:
        return None
    row = await session.get(AccountOwnerRow, account_domain.lower())
    return row.rep_id if row is not None else None


async def active_assignments(
    session: AsyncSession, lead_id: str, *, statuses: Sequence[str] = ("open", "queued")
) -> list[AssignmentRow]:
    return list(
        (
            await session.execute(
                select(AssignmentRow)
                .where(AssignmentRow.lead_id == lead_id, AssignmentRow.status.in_(statuses))
                .order_by(AssignmentRow.created_at)
                .with_for_update()
            )
        ).scalars()
    )

"""Rows ↔ domain objects, and the reads a routing batch starts from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.routing.adapters.orm import (
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
    return {f.name: getattr(lead, f.name) for f in fields(lead)}


def lead_from_json(stored: Mapping[str, Any]) -> LeadProfile:
    return LeadProfile(**stored)


async def open_lead_counts(session: AsyncSession) -> dict[str, int]:
    """Open leads per rep (through ``ix_assignments_open_by_rep``)."""
    rows = await session.execute(
        select(AssignmentRow.rep_id, func.count())
        .where(AssignmentRow.status == "open", AssignmentRow.rep_id.is_not(None))
        .group_by(AssignmentRow.rep_id)
    )
    return {str(rep_id): int(count) for rep_id, count in rows.all()}


async def load_rules(session: AsyncSession) -> tuple[list[RoutingRule], dict[str, Pool]]:
    rules = (
        await session.execute(select(RoutingRuleRow).order_by(RoutingRuleRow.position))
    ).scalars()
    pools = (await session.execute(select(PoolRow))).scalars()
    return [rule_of(r) for r in rules], {p.name: pool_of(p) for p in pools}


async def locked_rotations(session: AsyncSession) -> dict[str, RotationCursorRow]:
    rows = (
        await session.execute(
            select(RotationCursorRow).order_by(RotationCursorRow.pool).with_for_update()
        )
    ).scalars()
    return {row.pool: row for row in rows}


def rotation_of(row: RotationCursorRow) -> Rotation:
    return Rotation(row.last_rep_id, dict(row.credits))


def credits_json(rotation: Rotation) -> str:
    return orjson.dumps(rotation.credits).decode()

"""Rows ↔ domain objects, and the reads a routing batch starts from (on the session's asyncpg
connection: a handful of statements per batch, none per event)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
from leadpipe.routing.domain.reps import Rep, Role
from leadpipe.routing.domain.rules import STRATEGIES, Conditions, Pool, RoutingRule, Strategy
from leadpipe.routing.domain.strategies import Rotation
from leadpipe.shared.bulk import Connection, table_of

REPS = table_of(RepRow)
POOLS = table_of(PoolRow)
RULES = table_of(RoutingRuleRow)
ROTATIONS = table_of(RotationCursorRow)
OWNERS = table_of(AccountOwnerRow)
ASSIGNMENTS = table_of(AssignmentRow)

# Every routing transaction locks every rep, in id order, before anything else it locks.
LOCK_REPS = (
    "SELECT id, name, email, role, active, territories::TEXT AS territories,"
    " segments::TEXT AS segments, languages::TEXT AS languages, capacity, weight, time_zone,"
    " working_hours, holiday_calendar, out_of_office::TEXT AS out_of_office"
    f" FROM {REPS.fullname} ORDER BY id FOR UPDATE"
)
LOCK_ROTATIONS = (
    f"SELECT pool, last_rep_id, credits::TEXT AS credits FROM {ROTATIONS.fullname}"
    " ORDER BY pool FOR UPDATE"
)
READ_RULES = (
    f"SELECT name, pool, conditions::TEXT AS conditions FROM {RULES.fullname} ORDER BY position"
)
READ_POOLS = (
    "SELECT name, role, strategy, members::TEXT AS members, match_coverage, max_reassignments,"
    f" escalate_to FROM {POOLS.fullname}"
)
# Through ix_assignments_open_by_rep.
COUNT_OPEN = (
    f"SELECT rep_id, count(*) AS open_leads FROM {ASSIGNMENTS.fullname}"
    " WHERE status = 'open' AND rep_id IS NOT NULL GROUP BY rep_id"
)
READ_OWNERS = (
    f"SELECT account_domain, rep_id FROM {OWNERS.fullname} WHERE account_domain = ANY($1::TEXT[])"
)


def _list(text: str) -> list[str]:
    return [str(item) for item in orjson.loads(text)]


def calendar_of(row: Mapping[str, Any]) -> WorkCalendar:
    holiday_calendar = row["holiday_calendar"]
    country, subdivision = (
        parse_holiday_calendar(holiday_calendar) if holiday_calendar else (None, None)
    )
    return WorkCalendar(
        time_zone=row["time_zone"],
        hours=WeeklyHours.parse(row["working_hours"]) if row["working_hours"] else None,
        holiday_country=country,
        holiday_subdivision=subdivision,
        out_of_office=tuple(DateRange.parse(period) for period in _list(row["out_of_office"])),
    )


def rep_of(row: Mapping[str, Any]) -> Rep:
    role: Role = "bdr" if row["role"] == "bdr" else "ae"
    return Rep(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        role=role,
        active=row["active"],
        territories=frozenset(t.upper() for t in _list(row["territories"])),
        segments=frozenset(_list(row["segments"])),
        languages=frozenset(lang.lower() for lang in _list(row["languages"])),
        capacity=row["capacity"],
        weight=row["weight"],
        calendar=calendar_of(row),
    )


def pool_of(row: Mapping[str, Any]) -> Pool:
    role: Role = "bdr" if row["role"] == "bdr" else "ae"
    return Pool(
        row["name"],
        role,
        strategy_of(row["name"], row["strategy"]),
        frozenset(_list(row["members"])),
        row["match_coverage"],
        row["max_reassignments"],
        row["escalate_to"],
    )


class UnknownStrategy(ValueError):
    """A stored pool names a strategy this version does not know: routing its leads by another
    one would break the promise the pool was configured with."""


def _is_strategy(name: object) -> TypeGuard[Strategy]:
    return name in STRATEGIES


def strategy_of(pool: str, name: object) -> Strategy:
    if not _is_strategy(name):
        raise UnknownStrategy(
            f"pool {pool!r} has the strategy {name!r}, not one of {', '.join(STRATEGIES)}"
        )
    return name


def rule_of(row: Mapping[str, Any]) -> RoutingRule:
    return RoutingRule(row["name"], row["pool"], conditions_of(orjson.loads(row["conditions"])))


def rotation_of(row: Mapping[str, Any]) -> Rotation:
    return Rotation(row["last_rep_id"], dict(orjson.loads(row["credits"])))


def credits_json(rotation: Rotation) -> str:
    return orjson.dumps(rotation.credits).decode()


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


async def lock_reps(connection: Connection) -> dict[str, Rep]:
    return {row["id"]: rep_of(row) for row in await connection.fetch(LOCK_REPS)}


async def lock_rotations(connection: Connection) -> dict[str, Rotation]:
    return {row["pool"]: rotation_of(row) for row in await connection.fetch(LOCK_ROTATIONS)}


async def read_rules(connection: Connection) -> tuple[list[RoutingRule], dict[str, Pool]]:
    rules = [rule_of(row) for row in await connection.fetch(READ_RULES)]
    return rules, {row["name"]: pool_of(row) for row in await connection.fetch(READ_POOLS)}


async def count_open_leads(connection: Connection) -> dict[str, int]:
    return {row["rep_id"]: int(row["open_leads"]) for row in await connection.fetch(COUNT_OPEN)}


async def read_account_owners(connection: Connection, domains: Collection[str]) -> dict[str, str]:
    rows = await connection.fetch(READ_OWNERS, sorted(domains))
    return {row["account_domain"]: row["rep_id"] for row in rows}


async def open_lead_counts(session: AsyncSession) -> dict[str, int]:
    """Open leads per rep, for the API (through ``ix_assignments_open_by_rep``)."""
    rows = await session.execute(
        select(AssignmentRow.rep_id, func.count())
        .where(AssignmentRow.status == "open", AssignmentRow.rep_id.is_not(None))
        .group_by(AssignmentRow.rep_id)
    )
    return {str(rep_id): int(count) for rep_id, count in rows.all()}

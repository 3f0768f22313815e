"""Pools and the ordered routing rules over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import delete, select

from leadpipe.routing.adapters.orm import PoolRow, RepRow, RoutingRuleRow
from leadpipe.routing.entrypoints.api.errors import ApiError
from leadpipe.routing.entrypoints.api.reps import sessions_of
from leadpipe.routing.entrypoints.api.schemas import ConditionsIn, PoolIn, PoolOut, RuleIn, RulesIn

router = APIRouter(prefix="/v1", tags=["rules"])


@router.get("/pools", response_model=list[PoolOut])
async def list_pools(request: Request) -> list[PoolOut]:
    async with sessions_of(request)() as session:
        pools = (await session.execute(select(PoolRow).order_by(PoolRow.name))).scalars().all()
        emails = dict((await session.execute(select(RepRow.id, RepRow.email))).all())
    return [
        PoolOut(
            name=p.name,
            role=p.role,
            strategy=p.strategy,
            members=[emails[m] for m in p.members if m in emails],
            match_coverage=p.match_coverage,
            max_reassignments=p.max_reassignments,
            escalate_to=emails.get(p.escalate_to) if p.escalate_to else None,
        )
        for p in pools
    ]


@router.put("/pools/{name}", response_model=PoolOut)
async def put_pool(request: Request, name: str, pool: PoolIn) -> PoolOut:
    """Create or replace a pool. A pool named ``ae`` or ``bdr`` replaces the default pool
    leads of that role go to when no rule matches."""
    async with sessions_of(request)() as session, session.begin():
        ids: list[str] = []
        for index, email in enumerate(pool.members):
            rep = (
                await session.execute(select(RepRow).where(RepRow.email == str(email).lower()))
            ).scalar_one_or_none()
            if rep is None:
                raise ApiError(422, f"members.{index}", f"no rep with the email {email}")
            if rep.role != pool.role:
                raise ApiError(
                    422,
                    f"members.{index}",
                    f"{email} is a {rep.role}, the pool is for {pool.role}s",
                )
            ids.append(rep.id)
        escalate_to: str | None = None
        if pool.escalate_to is not None:
            target = (
                await session.execute(
                    select(RepRow.id).where(RepRow.email == str(pool.escalate_to).lower())
                )
            ).scalar_one_or_none()
            if target is None:
                raise ApiError(422, "escalate_to", f"no rep with the email {pool.escalate_to}")
            escalate_to = target
        row = await session.get(PoolRow, name, with_for_update=True)
        if row is None:
            row = PoolRow(name=name)
            session.add(row)
        row.role, row.strategy, row.members = pool.role, pool.strategy, ids
        row.match_coverage = pool.match_coverage
        row.max_reassignments, row.escalate_to = pool.max_reassignments, escalate_to
    return PoolOut(name=name, **pool.model_dump())


@router.delete("/pools/{name}", status_code=204)
async def delete_pool(request: Request, name: str) -> None:
    async with sessions_of(request)() as session, session.begin():
        used = (
            await session.execute(select(RoutingRuleRow.name).where(RoutingRuleRow.pool == name))
        ).first()
        if used is not None:
            raise ApiError(409, "name", f"rule '{used[0]}' routes to this pool")
        deleted = await session.execute(
            delete(PoolRow).where(PoolRow.name == name).returning(PoolRow.name)
        )
        if deleted.first() is None:
            raise ApiError(404, "name", "no such pool")


@router.get("/rules", response_model=RulesIn)
async def list_rules(request: Request) -> RulesIn:
    async with sessions_of(request)() as session:
        rows = (
            (await session.execute(select(RoutingRuleRow).order_by(RoutingRuleRow.position)))
            .scalars()
            .all()
        )
    return RulesIn(
        rules=[
            RuleIn(name=r.name, pool=r.pool, conditions=ConditionsIn(**r.conditions)) for r in rows
        ]
    )


@router.put("/rules", response_model=RulesIn)
async def replace_rules(request: Request, body: RulesIn) -> RulesIn:
    """Replace the whole ordered list at once: routing never sees half of a change."""
    names = [rule.name for rule in body.rules]
    for index, rule_name in enumerate(names):
        if rule_name in names[:index]:
            raise ApiError(422, f"rules.{index}.name", f"'{rule_name}' is used twice")
    async with sessions_of(request)() as session, session.begin():
        pools = set((await session.execute(select(PoolRow.name))).scalars())
        for index, rule in enumerate(body.rules):
            if rule.pool not in pools:
                raise ApiError(422, f"rules.{index}.pool", f"no pool named '{rule.pool}'")
        await session.execute(delete(RoutingRuleRow))
        session.add_all(
            RoutingRuleRow(
                position=index, name=rule.name, pool=rule.pool, conditions=rule.conditions.stored()
            )
            for index, rule in enumerate(body.rules)
        )
    return body

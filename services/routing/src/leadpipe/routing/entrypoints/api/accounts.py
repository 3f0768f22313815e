"""Account owners: a lead whose account (email domain) has an owner goes to that owner first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import delete, select

from leadpipe.routing.adapters.orm import AccountOwnerRow, RepRow
from leadpipe.routing.entrypoints.api.errors import ApiError
from leadpipe.routing.entrypoints.api.reps import rep_out, sessions_of
from leadpipe.routing.entrypoints.api.schemas import AccountOwnerIn, AccountOwnerOut

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.get("/accounts", response_model=list[AccountOwnerOut])
async def list_owners(request: Request) -> list[AccountOwnerOut]:
    async with sessions_of(request)() as session:
        rows = (
            await session.execute(
                select(AccountOwnerRow, RepRow)
                .join(RepRow, RepRow.id == AccountOwnerRow.rep_id)
                .order_by(AccountOwnerRow.account_domain)
            )
        ).all()
        return [AccountOwnerOut(account_domain=a.account_domain, owner=rep_out(r)) for a, r in rows]


@router.put("/accounts/{account_domain}/owner", response_model=AccountOwnerOut)
async def set_owner(
    request: Request, account_domain: str, owner: AccountOwnerIn
) -> AccountOwnerOut:
    domain = account_domain.strip().lower()
    if "." not in domain or "@" in domain:
        raise ApiError(422, "account_domain", "must be a domain such as example.com")
    async with sessions_of(request)() as session, session.begin():
        rep = (
            await session.execute(select(RepRow).where(RepRow.email == str(owner.email).lower()))
        ).scalar_one_or_none()
        if rep is None:
            raise ApiError(422, "email", f"no rep with the email {owner.email}")
        row = await session.get(AccountOwnerRow, domain, with_for_update=True)
        if row is None:
            session.add(AccountOwnerRow(account_domain=domain, rep_id=rep.id))
        else:
            row.rep_id = rep.id
    return AccountOwnerOut(account_domain=domain, owner=rep_out(rep))


@router.delete("/accounts/{account_domain}/owner", status_code=204)
async def remove_owner(request: Request, account_domain: str) -> None:
    async with sessions_of(request)() as session, session.begin():
        result = await session.execute(
            delete(AccountOwnerRow)
            .where(AccountOwnerRow.account_domain == account_domain.strip().lower())
            .returning(AccountOwnerRow.rep_id)
        )
        if result.first() is None:
            raise ApiError(404, "account_domain", "this account has no owner")

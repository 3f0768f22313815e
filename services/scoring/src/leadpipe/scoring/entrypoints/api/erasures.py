"""The erasure API: ``POST /v1/erasures`` erases a person (admin scope)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, EmailStr

from leadpipe.scoring.adapters.subject_keys import KeyServiceUnavailable, SubjectKeyClient
from leadpipe.scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from leadpipe.scoring.service.erasure import erase_person
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.runtime import ConsumerRuntime
from leadpipe.shared.topics import Topics


class ErasureRequest(BaseModel):
    email: EmailStr


class ErasureOut(BaseModel):
    id: str
    subject_hash: str
    lead_ids: list[str]
    removed: dict[str, int]
    erased_at: datetime


def erasures_router(topics: Topics, keys: SubjectKeyClient) -> APIRouter:
    router = APIRouter(prefix="/v1/erasures", tags=["privacy"])

    @router.post(
        "",
        response_model=ErasureOut,
        status_code=201,
        responses={503: {"description": "ingest's key API is unreachable; nothing was erased"}},
    )
    async def erase(request: Request, body: ErasureRequest) -> ErasureOut:
        """Erase a person's data from scoring now, shred the keys that open their events on
        the topics, and erase them from routing as soon as it reads the `lead.erased` event.
        The receipt holds no personal data."""
        runtime: ConsumerRuntime = request.app.state.runtime
        async with runtime.sessions() as session, session.begin():
            now = datetime.now(UTC)
            uow = await PostgresScoringUnitOfWork.open(session, topics, now)
            receipt = await erase_person(uow, body.email, topics, now)
            # Before the commit: were ingest unreachable, the erasure is refused whole and
            # can be asked again (both steps are idempotent), rather than half done.
            try:
                receipt.removed["keys_shredded"] = await keys.shred(receipt.subjects)
            except KeyServiceUnavailable as exc:
                raise HTTPException(
                    503,
                    detail={"field": None, "reason": f"{exc}; nothing was erased, try again"},
                ) from exc
        relay: OutboxRelay = runtime.relay
        relay.wake()
        return ErasureOut(
            id=receipt.id,
            subject_hash=receipt.subject_hash,
            lead_ids=receipt.lead_ids,
            removed=receipt.removed,
            erased_at=receipt.erased_at,
        )

    return router

"""The erasure API: ``POST /v1/erasures`` erases a person (admin scope)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, EmailStr

from leadpipe.scoring.adapters.erasure import erase_person
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


def erasures_router(topics: Topics) -> APIRouter:
    router = APIRouter(prefix="/v1/erasures", tags=["privacy"])

    @router.post("", response_model=ErasureOut, status_code=201)
    async def erase(request: Request, body: ErasureRequest) -> ErasureOut:
        """Erase a person's data from scoring now, and from routing as soon as it reads the
        `lead.erased` event. The receipt holds no personal data."""
        runtime: ConsumerRuntime = request.app.state.runtime
        async with runtime.sessions() as session, session.begin():
            receipt = await erase_person(session, body.email, topics, datetime.now(UTC))
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

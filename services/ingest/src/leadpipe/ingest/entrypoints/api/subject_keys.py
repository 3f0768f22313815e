"""The internal subject-key API: consumers fetch the data keys that open a subject's sealed
events, and erasure shreds them. Only the services (their shared service token) may call it."""

from __future__ import annotations

import base64
import hmac

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from leadpipe.ingest.adapters.subject_keys import SubjectKeys
from leadpipe.shared.auth import bearer_token

MAX_SUBJECTS = 1000


class Subjects(BaseModel):
    subjects: list[str] = Field(min_length=1, max_length=MAX_SUBJECTS)


class KeysOut(BaseModel):
    keys: dict[str, str | None] = Field(
        description="subject → base64 data key; null when there is none (shredded, or never "
        "made): that subject's events stay sealed."
    )


class ShreddedOut(BaseModel):
    shredded: int = Field(description="How many of the subjects still had a key.")


def require_service(request: Request) -> None:
    expected: str = request.app.state.service_token
    if not hmac.compare_digest(bearer_token(request).encode(), expected.encode()):
        raise HTTPException(
            401,
            detail={"field": "Authorization", "reason": "not the services' token"},
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(
    prefix="/v1/subject-keys", tags=["internal"], dependencies=[Depends(require_service)]
)


def _keys(request: Request) -> SubjectKeys:
    found: SubjectKeys = request.app.state.subject_keys
    return found


@router.post(":lookup", response_model=KeysOut)
async def lookup(request: Request, body: Subjects) -> KeysOut:
    known = await _keys(request).known(set(body.subjects))
    return KeysOut(
        keys={s: base64.b64encode(k).decode() if k is not None else None for s, k in known.items()}
    )


@router.post(":erase", response_model=ShreddedOut)
async def erase(request: Request, body: Subjects) -> ShreddedOut:
    """Shred the subjects' keys: every event sealed under them, on any topic or copy, becomes
    unreadable, and their later events are not published. Idempotent."""
    return ShreddedOut(shredded=await _keys(request).shred(set(body.subjects)))

"""Form posts: ``POST /v1/forms/{form_id}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import ORJSONResponse

from leadpipe.ingest.adapters.publisher import EventPublisher
from leadpipe.ingest.domain.forms import FieldError, form_event

router = APIRouter(prefix="/v1/forms", tags=["forms"])
FORM_ID = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
MAX_BODY_BYTES = 32 * 1024


@router.post("/{form_id}", status_code=202)
async def submit_form(request: Request, form_id: FORM_ID) -> ORJSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return ORJSONResponse(
            {"success": False, "error": {"field": None, "reason": "body larger than 32 KB"}},
            status_code=413,
        )
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FieldError("body", f"is not valid JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise FieldError("body", "must be a JSON object of form fields")
    event = form_event(form_id, fields, source=f"form:{form_id}", received_at=datetime.now(UTC))
    publisher: EventPublisher = request.app.state.publisher
    await publisher.publish(event, request.headers.get("traceparent"))
    return ORJSONResponse({"success": True, "event_id": event.event_id}, status_code=202)

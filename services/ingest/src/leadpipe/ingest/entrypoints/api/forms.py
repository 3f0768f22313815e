"""Form posts: ``POST /v1/forms/{form_id}``, from JavaScript (JSON) or a plain HTML form.

Forms are public endpoints on customers' pages: a post to a form id nobody registered is
accepted too. A registered form source adds a CORS allow-list and a thank-you page."""

from __future__ import annotations

import re
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import JsonValue

from leadpipe.ingest.adapters.metrics import REFUSED
from leadpipe.ingest.domain.forms import HONEYPOT_FIELD, FieldError, form_event, html_fields
from leadpipe.ingest.domain.idempotency import content_digest, scoped_key
from leadpipe.ingest.domain.refusals import Refusal
from leadpipe.ingest.domain.sources import Source, SourceKind, thank_you_url
from leadpipe.ingest.domain.storable import check_id
from leadpipe.ingest.domain.tracking import event_id_for
from leadpipe.ingest.entrypoints.api.body import (
    parse_form,
    parse_json,
    read_body,
    require_media_type,
    traceparent,
)
from leadpipe.ingest.entrypoints.api.openapi import FORM_FIELDS, request_body
from leadpipe.ingest.entrypoints.api.state import ingest_of
from leadpipe.shared.http import JsonResponse

router = APIRouter(prefix="/v1/forms", tags=["forms"])
FORM_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
FORM_ID = Annotated[str, Path(min_length=1, max_length=100, pattern=FORM_ID_PATTERN)]
VALID_FORM_ID = re.compile(FORM_ID_PATTERN)
MAX_BODY_BYTES = 32 * 1024
JSON = "application/json"
HTML_FORM = "application/x-www-form-urlencoded"


class OriginNotAllowed(Refusal):
    status = 403
    code = "origin_not_allowed"


def _cors(source: Source | None, origin: str | None) -> dict[str, str]:
    """CORS headers for ``origin``; a registered form with an allow-list refuses others."""
    if origin is None:
        return {}
    if source is None or not source.allowed_origins:
        return {"Access-Control-Allow-Origin": "*"}
    if origin not in source.allowed_origins:
        raise OriginNotAllowed("Origin", f"{origin} is not allowed to post to this form")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _form_source(request: Request, form_id: str) -> Source | None:
    return ingest_of(request).sources.registry.named(form_id, SourceKind.FORM)


@router.options("/{form_id}", include_in_schema=False)
async def preflight(request: Request, form_id: FORM_ID) -> Response:
    headers = _cors(_form_source(request, form_id), request.headers.get("origin"))
    headers.update(
        {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
    )
    return Response(status_code=204, headers=headers)


@router.post(
    "/{form_id}", status_code=202, openapi_extra=request_body(FORM_FIELDS, JSON, HTML_FORM)
)
async def submit_form(request: Request, form_id: FORM_ID) -> Response:
    # Checked here too: posts reach this function without FastAPI (api/direct.py).
    if not VALID_FORM_ID.fullmatch(form_id):  # fullmatch: "$" alone lets a final "\n" by
        raise FieldError("form_id", "must be 1-100 letters, digits, '_', '.' or '-'")
    source = _form_source(request, form_id)
    request.state.source = source.event_source if source else "form:unregistered"
    cors = _cors(source, request.headers.get("origin"))
    kind = require_media_type(request, JSON, HTML_FORM)
    body = await read_body(request, MAX_BODY_BYTES)
    fields: dict[str, JsonValue]
    if kind == HTML_FORM:
        fields = html_fields(parse_form(body))
    else:
        parsed = parse_json(body)
        if not isinstance(parsed, dict):
            raise FieldError("body", "must be a JSON object of form fields")
        fields = parsed
    ingest = ingest_of(request)
    if fields.get(HONEYPOT_FIELD):
        # A bot filled the field people cannot see: answer as if accepted, forward nothing.
        REFUSED.labels(request.state.source, "honeypot").inc()
        return _accepted(kind, source, str(uuid.uuid4()), cors)
    # The key with the content: a retry is the same event, other content another (see
    # domain/idempotency.py).
    key = request.headers.get("idempotency-key")
    check_id(key, "Idempotency-Key")
    digest = content_digest(fields) if key else ""
    event = form_event(
        form_id,
        fields,
        source=f"form:{form_id}",
        received_at=ingest.now(),
        event_id=event_id_for(f"form:{form_id}", scoped_key(key, digest) if key else None),
    )
    if key:
        ingest.keys.claim(form_id, key, digest, time.monotonic())
    ingest.admit(request, request.state.source, 1)
    await ingest.publisher.publish(event, traceparent(request))
    return _accepted(kind, source, event.event_id, cors)


def _thank_you(source: Source | None) -> str | None:
    """The form's thank-you page; never one a browser would run (a row written around the
    CLI's check could hold ``javascript:``)."""
    if source is None or not source.thank_you_url:
        return None
    try:
        return thank_you_url(source.thank_you_url)
    except ValueError:
        return None


def _accepted(kind: str, source: Source | None, event_id: str, cors: dict[str, str]) -> Response:
    thanks = _thank_you(source) if kind == HTML_FORM else None
    if thanks is not None:
        return RedirectResponse(thanks, status_code=303, headers=cors)
    return JsonResponse({"success": True, "event_id": event_id}, status_code=202, headers=cors)


# Served directly (api/direct.py), beside the FastAPI route above.
EVENT_ROUTES = {"/v1/forms/{form_id}": submit_form}

"""Signed webhooks: ``POST /v1/webhooks/{source}``.

A ``webhook`` source verifies Standard Webhooks signatures (or, created ``--unsigned``, a token
in the URL or as Basic password); a ``hubspot`` source verifies HubSpot's signature v3 and maps
contact subscriptions. Redeliveries carry the same delivery id and so become the same event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from leadpipe.ingest.api.body import (
    basic_credentials,
    parse_json,
    read_body,
    require_media_type,
    traceparent,
)
from leadpipe.ingest.api.openapi import WEBHOOK_BODY, request_body
from leadpipe.ingest.api.state import Ingest, ingest_of
from leadpipe.ingest.domain.idempotency import body_scoped
from leadpipe.ingest.domain.refusals import Unauthorised
from leadpipe.ingest.domain.signatures import verify_hubspot_v3, verify_standard_webhook
from leadpipe.ingest.domain.sources import Source, SourceKind
from leadpipe.ingest.domain.tracking import MAX_REQUEST_BYTES
from leadpipe.ingest.domain.webhooks import generic_event, hubspot_events
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.http import JsonResponse

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SOURCE_NAME = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


def _token(request: Request) -> str:
    in_url = request.query_params.get("token")
    if in_url:
        return in_url
    credentials = basic_credentials(request)
    if credentials is not None:
        return credentials[1] or credentials[0]
    raise Unauthorised("token", "is required in the URL (?token=…) or as Basic password")


def _signed_url(request: Request, ingest: Ingest) -> str:
    """The URL the sender signed: behind a proxy, the public one."""
    if ingest.public_base_url is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return ingest.public_base_url.rstrip("/") + request.url.path + query


def _events(request: Request, ingest: Ingest, source: Source, body: bytes) -> list[InboundEvent]:
    now = ingest.now()
    headers = {k.lower(): v for k, v in request.headers.items()}
    if source.kind is SourceKind.HUBSPOT:
        assert source.secret is not None
        verify_hubspot_v3(
            source.secret,
            request.method,
            _signed_url(request, ingest),
            headers,
            body,
            now_s=now.timestamp(),
        )
        return hubspot_events(parse_json(body), source=source.event_source, received_at=now)
    delivery_id: str | None
    if source.secret is not None:
        delivery_id = verify_standard_webhook(source.secret, headers, body, now_s=now.timestamp())
    else:
        if not source.accepts_token(_token(request)):
            raise Unauthorised("token", "is not this source's token")
        delivery_id = headers.get("webhook-id") or body_scoped(headers.get("idempotency-key"), body)
    return [
        generic_event(
            parse_json(body),
            source=source.event_source,
            delivery_id=delivery_id,
            received_at=now,
        )
    ]


@router.post("/{source}", openapi_extra=request_body(WEBHOOK_BODY, "application/json"))
async def receive_webhook(request: Request, source: SOURCE_NAME) -> JsonResponse:
    ingest = ingest_of(request)
    found = ingest.sources.registry.named(source, SourceKind.WEBHOOK, SourceKind.HUBSPOT)
    if found is None:
        raise Unauthorised("source", "is not an active webhook source")
    request.state.source = found.event_source
    require_media_type(request, "application/json")
    body = await read_body(request, MAX_REQUEST_BYTES)
    events = _events(request, ingest, found, body)
    ingest.admit(request, found, len(events))
    await ingest.publisher.publish_all(events, traceparent(request))
    return JsonResponse({"success": True, "received": len(events)})

"""Webhooks: ``POST /v1/webhooks/{source}``.

The source's kind names its provider (``domain/providers``), which verifies the delivery and
maps its body to events; this route only reads the request and publishes what comes back.
Redeliveries carry the same delivery id (or content) and so become the same event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from leadpipe.ingest.domain.providers import PROVIDERS, WebhookRequest
from leadpipe.ingest.domain.refusals import Unauthorised
from leadpipe.ingest.domain.tracking import MAX_REQUEST_BYTES
from leadpipe.ingest.entrypoints.api.body import (
    basic_credentials,
    parse_json,
    read_body,
    require_media_type,
    traceparent,
)
from leadpipe.ingest.entrypoints.api.openapi import WEBHOOK_BODY, request_body
from leadpipe.ingest.entrypoints.api.state import Ingest, ingest_of
from leadpipe.shared.http import JsonResponse

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
SOURCE_NAME = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
BODY: dict[str, Any] = {
    **WEBHOOK_BODY,
    "description": "By the source's kind: "
    + "; ".join(f"{kind} = {provider.description}" for kind, provider in PROVIDERS.items()),
}


def _token(request: Request) -> str | None:
    in_url = request.query_params.get("token")
    if in_url:
        return in_url
    credentials = basic_credentials(request)
    if credentials is not None:
        return credentials[1] or credentials[0]
    return None


def _signed_url(request: Request, ingest: Ingest) -> str:
    """The URL the sender signed: behind a proxy, the public one."""
    if ingest.public_base_url is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return ingest.public_base_url.rstrip("/") + request.url.path + query


@router.post("/{source}", openapi_extra=request_body(BODY, "application/json"))
async def receive_webhook(request: Request, source: SOURCE_NAME) -> JsonResponse:
    ingest = ingest_of(request)
    found = ingest.sources.registry.named(source, *PROVIDERS)
    if found is None:
        raise Unauthorised("source", "is not an active webhook source")
    request.state.source = found.event_source
    require_media_type(request, "application/json")
    body = await read_body(request, MAX_REQUEST_BYTES)
    provider = PROVIDERS[found.kind]
    delivery = provider.verify(
        WebhookRequest(
            method=request.method,
            url=_signed_url(request, ingest),
            headers={k.lower(): v for k, v in request.headers.items()},
            token=_token(request),
            body=body,
            received_at=ingest.now(),
        ),
        found,
    )
    events = provider.to_events(parse_json(body), delivery, found)
    ingest.admit(request, found, len(events))
    await ingest.publisher.publish_all(events, traceparent(request))
    return JsonResponse({"success": True, "received": len(events)})

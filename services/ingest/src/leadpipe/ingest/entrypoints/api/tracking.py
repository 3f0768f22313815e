"""The Segment-compatible tracking API: ``/v1/identify|track|page|screen|group|alias|batch``
and analytics.js's one-letter paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import APIRouter, Request, Response

from leadpipe.ingest.domain.refusals import Malformed, Unauthorised
from leadpipe.ingest.domain.sources import Source
from leadpipe.ingest.domain.tracking import (
    CALL_TYPES,
    MAX_REQUEST_BYTES,
    SHORT_PATHS,
    Json,
    batch_events,
    call_event,
)
from leadpipe.ingest.entrypoints.api.body import (
    basic_credentials,
    parse_json,
    read_body,
    require_media_type,
    traceparent,
)
from leadpipe.ingest.entrypoints.api.openapi import SEGMENT_BATCH, SEGMENT_CALL, request_body
from leadpipe.ingest.entrypoints.api.state import ingest_of
from leadpipe.shared.http import JsonResponse

router = APIRouter(prefix="/v1", tags=["tracking"])
# analytics.js calls from the customer's pages: any origin may send; the write key decides.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def _write_key(request: Request, body: Json) -> str:
    credentials = basic_credentials(request)
    if credentials is not None and credentials[0]:
        return credentials[0]
    in_body = body.get("writeKey")
    if isinstance(in_body, str) and in_body:
        return in_body
    raise Unauthorised("writeKey", "is required as Basic user or in the body")


def _authenticated(request: Request, body: Json) -> Source:
    source = ingest_of(request).sources.registry.by_write_key(_write_key(request, body))
    if source is None:
        raise Unauthorised("writeKey", "is not the key of an active source")
    request.state.source = source.event_source
    return source


def _handler(call: str) -> Callable[[Request], Awaitable[JsonResponse]]:
    async def receive(request: Request) -> JsonResponse:
        # No Content-Type is read as JSON too: the body must parse either way.
        require_media_type(request, "application/json", "text/plain", "")
        parsed = parse_json(await read_body(request, MAX_REQUEST_BYTES))
        if not isinstance(parsed, dict):
            raise Malformed("body", "must be a JSON object")
        body = cast("Json", parsed)
        source = _authenticated(request, body)
        ingest = ingest_of(request)
        received_at = ingest.now()
        if call == "batch":
            events = batch_events(body, source=source.event_source, received_at=received_at)
        else:
            events = [
                call_event(
                    body, call_type=call, source=source.event_source, received_at=received_at
                )
            ]
        ingest.admit(request, source, len(events))
        await ingest.publisher.publish_all(events, traceparent(request))
        return JsonResponse({"success": True}, headers=CORS_HEADERS)

    receive.__name__ = f"receive_{call}"
    return receive


async def preflight() -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


def _body(call: str) -> dict[str, Any]:
    schema = SEGMENT_BATCH if call == "batch" else SEGMENT_CALL
    return request_body(schema, "application/json", "text/plain")


HANDLERS = {call: _handler(call) for call in (*sorted(CALL_TYPES), "batch")}
# Served directly (api/direct.py), beside their FastAPI routes below.
EVENT_ROUTES = {
    **{f"/v1/{call}": receive for call, receive in HANDLERS.items()},
    **{f"/v1/{short}": HANDLERS[call] for short, call in SHORT_PATHS.items()},
}
for _call, _receive in HANDLERS.items():
    router.add_api_route(
        f"/{_call}",
        _receive,
        methods=["POST"],
        summary=f"Segment {_call} call",
        openapi_extra=_body(_call),
    )
    router.add_api_route(f"/{_call}", preflight, methods=["OPTIONS"], include_in_schema=False)
for _short, _call in SHORT_PATHS.items():
    router.add_api_route(
        f"/{_short}",
        HANDLERS[_call],
        methods=["POST"],
        summary=f"analytics.js {_call} call",
        openapi_extra=_body(_call),
    )
    router.add_api_route(f"/{_short}", preflight, methods=["OPTIONS"], include_in_schema=False)

"""Segment-spec calls (identify, track, page, screen, group, alias) as inbound events.

The lead key of a call is the normalised email when the call carries one (``traits.email`` or
``context.traits.email``), else the ``userId``, else ``anon:<anonymousId>``. The event id is
derived from the source and the ``messageId``, so a call sent twice (a client retry, a second
ingest instance, a restart in between) becomes the same event, which consumers drop by id."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import JsonValue

from leadpipe.ingest.domain.emails import normalise_email
from leadpipe.ingest.domain.refusals import FieldError, Malformed, TooLarge
from leadpipe.ingest.domain.storable import check_counts, check_id, storable_json, within_window
from leadpipe.ingest.domain.timestamps import corrected, parse_timestamp
from leadpipe.shared.events import Identity, InboundEvent

CALL_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
# analytics.js posts single calls to one-letter paths.
SHORT_PATHS = {
    "i": "identify",
    "t": "track",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "b": "batch",
}
MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
MESSAGE_ID_NAMESPACE = uuid.UUID("5b0e3a38-6f1e-4c43-9a35-7f6d0c1f2a90")
_NAMESPACE_BYTES = MESSAGE_ID_NAMESPACE.bytes

Json = dict[str, JsonValue]


def event_id_for(source: str, message_id: str | None) -> str:
    """Deterministic for a (source, messageId) pair: the de-duplication key on Kafka. The
    name-based UUID (version 5) of the pair, as ``uuid.uuid5`` makes it, without its UUID
    object: this runs for every event of every batch."""
    if not message_id:
        return str(uuid.uuid4())
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source}\n{message_id}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    hex_ = digest[:16].hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


def merged(outer: Mapping[str, JsonValue], inner: Mapping[str, JsonValue]) -> Json:
    """``inner`` over ``outer``, nested objects merged key by key (the item's values win)."""
    if not outer:
        return dict(inner)  # the usual case in a batch: nothing to merge
    result: Json = dict(outer)
    for key, value in inner.items():
        below = result.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            result[key] = merged(below, value)
        else:
            result[key] = value
    return result


def _object(call: Mapping[str, JsonValue], name: str, where: str) -> Json:
    value = call.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(f"{where}{name}", "must be an object")
    return value


def _id(call: Mapping[str, JsonValue], name: str, where: str) -> str | None:
    value = call.get(name)
    if type(value) is str:  # nearly always: the quick way out
        check_id(value, f"{where}{name}")
        return value or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(f"{where}{name}", "must be a string")
    return str(value)


def _email(traits: Mapping[str, JsonValue]) -> str | None:
    """A usable email from traits; an unusable one stays in the traits but keys nothing."""
    raw = traits.get("email")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return normalise_email(raw)
    except FieldError:
        return None


def call_event(
    call: Mapping[str, JsonValue],
    *,
    call_type: str | None,
    source: str,
    received_at: datetime,
    batch: Mapping[str, JsonValue] | None = None,
    where: str = "",
) -> InboundEvent:
    """One Segment call as an inbound event.

    ``call_type`` comes from the path (``/v1/track``), or from the item's ``type`` inside a
    batch (``None``). ``batch`` is the enclosing batch body, whose ``context``,
    ``integrations`` and ``sentAt`` apply to each item unless it has its own. ``where`` prefixes
    field names in errors (``batch[3].``)."""
    if len(storable_json(call, where)) > MAX_EVENT_BYTES:
        raise TooLarge(where.rstrip(".") or "body", "event is larger than 32 KB")
    outer = batch or {}
    kind = call_type or call.get("type")
    if not isinstance(kind, str) or kind not in CALL_TYPES:
        raise FieldError(f"{where}type", f"must be one of {', '.join(sorted(CALL_TYPES))}")
    context = merged(_object(outer, "context", ""), _object(call, "context", where))
    integrations = merged(_object(outer, "integrations", ""), _object(call, "integrations", where))
    if integrations:
        context["integrations"] = integrations
    user_id = _id(call, "userId", where)
    anonymous_id = _id(call, "anonymousId", where)
    if user_id is None and anonymous_id is None:
        raise Malformed(f"{where}userId", "userId or anonymousId is required")
    context_traits = context.get("traits")
    traits = merged(
        context_traits if isinstance(context_traits, dict) else {},
        _object(call, "traits", where),
    )
    properties = dict(_object(call, "properties", where))
    if kind == "track":
        name = call.get("event")
        if not isinstance(name, str) or not name.strip():
            raise FieldError(f"{where}event", "is required for a track call")
        check_id(name, f"{where}event")
        properties["event"] = name
    elif kind in {"page", "screen"} and isinstance(call.get("name"), str):
        properties["name"] = call["name"]
    elif kind == "group":
        group_id = _id(call, "groupId", where)
        if group_id is None:
            raise FieldError(f"{where}groupId", "is required for a group call")
        properties["group_id"] = group_id
    elif kind == "alias":
        previous_id = _id(call, "previousId", where)
        if previous_id is None or user_id is None:
            raise FieldError(f"{where}previousId", "alias needs previousId and userId")
        properties["previous_id"] = previous_id
    for part, fields in (("context", context), ("traits", traits), ("properties", properties)):
        check_counts(fields, f"{where}{part}.")
    email = _email(traits)
    lead_key = email or user_id or f"anon:{anonymous_id}"
    client_time = parse_timestamp(
        call.get("timestamp") or call.get("originalTimestamp"), f"{where}timestamp"
    )
    sent_at = parse_timestamp(call.get("sentAt") or outer.get("sentAt"), f"{where}sentAt")
    event = InboundEvent(
        event_id=event_id_for(source, _id(call, "messageId", where)),
        occurred_at=corrected(client_time, sent_at, received_at),
        received_at=received_at,
        name=kind,
        lead_key=lead_key,
        source=source,
        identity=Identity(email=email, user_id=user_id, anonymous_id=anonymous_id),
        traits=traits,
        properties=properties,
        context=context,
    )
    return within_window(event, f"{where}timestamp")


def batch_events(
    body: Mapping[str, JsonValue], *, source: str, received_at: datetime
) -> list[InboundEvent]:
    """Every item of a batch body, all or nothing: one bad item refuses the batch, naming it."""
    items = body.get("batch")
    if not isinstance(items, list):
        raise Malformed("batch", "must be a list of calls")
    # What applies to every item; each item is checked on its own.
    storable_json({key: value for key, value in body.items() if key != "batch"})
    events = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Malformed(f"batch[{index}]", "must be an object")
        events.append(
            call_event(
                item,
                call_type=None,
                source=source,
                received_at=received_at,
                batch=body,
                where=f"batch[{index}].",
            )
        )
    return events

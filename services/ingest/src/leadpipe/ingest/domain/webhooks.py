"""Webhook bodies as inbound events: the generic Standard Webhooks shape, and HubSpot's
contact subscriptions."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
from pydantic import JsonValue

from leadpipe.ingest.domain.emails import normalise_email
from leadpipe.ingest.domain.refusals import FieldError, Malformed
from leadpipe.ingest.domain.storable import check_counts, check_id, storable_json, within_window
from leadpipe.ingest.domain.timestamps import parse_timestamp
from leadpipe.ingest.domain.tracking import event_id_for
from leadpipe.shared.events import Identity, InboundEvent

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,99}$")
HUBSPOT_NAMES = {
    "contact.creation": "hubspot_contact_created",
    "contact.propertyChange": "hubspot_contact_property_changed",
    "contact.deletion": "hubspot_contact_deleted",
    "contact.merge": "hubspot_contact_merged",
    "contact.restore": "hubspot_contact_restored",
    "contact.privacyDeletion": "hubspot_contact_privacy_deleted",
}


def generic_event(
    body: object, *, source: str, delivery_id: str | None, received_at: datetime
) -> InboundEvent:
    """``{"type": "lead_contacted", "timestamp": ISO, "data": {"email"|"userId"|"anonymousId",
    …properties}}``. The delivery id (``webhook-id``) makes a redelivery the same event."""
    if not isinstance(body, dict):
        raise Malformed("body", "must be a JSON object with type, timestamp and data")
    storable_json(body)
    name = body.get("type")
    if not isinstance(name, str) or not EVENT_NAME.fullmatch(name):
        raise FieldError("type", "must be an event name such as lead_contacted")
    occurred_at = parse_timestamp(body.get("timestamp"), "timestamp") or received_at
    data = body.get("data")
    if not isinstance(data, dict):
        raise FieldError("data", "must be an object")
    raw_email, user_id, anonymous_id = (data.get(k) for k in ("email", "userId", "anonymousId"))
    email = normalise_email(raw_email) if raw_email is not None else None
    for field, value in (("data.userId", user_id), ("data.anonymousId", anonymous_id)):
        if value is not None and not isinstance(value, str):
            raise FieldError(field, "must be a string")
        check_id(value, field)
    if email is None and not user_id and not anonymous_id:
        raise FieldError("data.email", "data needs email, userId or anonymousId")
    properties: dict[str, JsonValue] = {
        k: v for k, v in data.items() if k not in {"email", "userId", "anonymousId"}
    }
    check_counts(properties, "data.")
    event = InboundEvent(
        event_id=event_id_for(source, delivery_id),
        occurred_at=occurred_at,
        received_at=received_at,
        name=name,
        lead_key=email or str(user_id or f"anon:{anonymous_id}"),
        source=source,
        identity=Identity(
            email=email,
            user_id=user_id if isinstance(user_id, str) else None,
            anonymous_id=anonymous_id if isinstance(anonymous_id, str) else None,
        ),
        properties=properties,
    )
    return within_window(event, "timestamp")


def _from_millis(raw: JsonValue, field: str) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise FieldError(field, "must be Unix milliseconds")
    try:
        return datetime.fromtimestamp(raw / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise FieldError(field, "is out of range") from exc


# Differs between HubSpot's retries of one event.
HUBSPOT_RETRY_FIELDS = frozenset({"attemptNumber"})


def _hubspot_delivery_key(item: Mapping[str, JsonValue], event_id: JsonValue) -> str:
    """HubSpot's ``eventId`` or, without one, a hash of the event's canonical content: either
    way a retry of the same event gets the same key."""
    if event_id is not None:
        return str(event_id)
    content = {k: v for k, v in item.items() if k not in HUBSPOT_RETRY_FIELDS}
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _hubspot_event(
    item: Mapping[str, JsonValue], index: int, *, source: str, received_at: datetime
) -> InboundEvent:
    where = f"[{index}]"
    kind = item.get("subscriptionType")
    if not isinstance(kind, str) or kind not in HUBSPOT_NAMES:
        raise FieldError(
            f"{where}.subscriptionType", "is not a contact subscription leadpipe knows"
        )
    object_id, event_id = item.get("objectId"), item.get("eventId")
    if not isinstance(object_id, int) or isinstance(object_id, bool):
        raise FieldError(f"{where}.objectId", "must be the contact's numeric id")
    occurred_at = _from_millis(item.get("occurredAt"), f"{where}.occurredAt") or received_at
    prop, value = item.get("propertyName"), item.get("propertyValue")
    email = normalise_email(value) if prop == "email" and isinstance(value, str) else None
    user_id = f"hubspot:{object_id}"
    properties: dict[str, JsonValue] = {"hubspot_object_id": object_id}
    for key in ("portalId", "changeSource", "subscriptionType"):
        if key in item:
            properties[key] = item[key]
    if isinstance(prop, str):
        properties["property"] = prop
        properties["value"] = value
    event = InboundEvent(
        event_id=event_id_for(source, _hubspot_delivery_key(item, event_id)),
        occurred_at=occurred_at,
        received_at=received_at,
        name=HUBSPOT_NAMES[kind],
        lead_key=email or user_id,
        source=source,
        identity=Identity(email=email, user_id=user_id),
        traits={"email": email} if email else {},
        properties=properties,
    )
    return within_window(event, f"{where}.occurredAt")


def hubspot_events(body: object, *, source: str, received_at: datetime) -> list[InboundEvent]:
    """HubSpot posts a JSON array of up to 100 subscription events per request."""
    if not isinstance(body, list):
        raise Malformed("body", "must be HubSpot's JSON array of events")
    storable_json(body)
    events = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise Malformed(f"[{index}]", "must be an object")
        events.append(_hubspot_event(item, index, source=source, received_at=received_at))
    return events

"""Request bodies for the OpenAPI document. The routes read their bodies themselves (gzip,
text/plain, size limits), so FastAPI cannot infer them; these describe what is accepted."""

from __future__ import annotations

from typing import Any

_ID = {"type": ["string", "number", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_OBJECT = {"type": "object"}
# What a call and a batch of calls both carry.
_SENT_WITH = {
    "context": _OBJECT,
    "integrations": _OBJECT,
    "sentAt": _TIME,
    "writeKey": {"type": "string"},
}

SEGMENT_CALL: dict[str, Any] = {
    "type": "object",
    "description": "A Segment-spec call; userId or anonymousId is required.",
    "properties": {
        "userId": _ID,
        "anonymousId": _ID,
        "messageId": {"type": "string"},
        "event": {"type": "string", "description": "track: the event name"},
        "name": {"type": "string", "description": "page / screen: its name"},
        "groupId": _ID,
        "previousId": _ID,
        "traits": _OBJECT,
        "properties": _OBJECT,
        "timestamp": _TIME,
        **_SENT_WITH,
    },
}
SEGMENT_BATCH: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {
            "type": "array",
            "items": {
                **SEGMENT_CALL,
                "properties": {
                    **SEGMENT_CALL["properties"],
                    "type": {"enum": ["identify", "track", "page", "screen", "group", "alias"]},
                },
            },
        },
        **_SENT_WITH,
    },
}
FORM_FIELDS: dict[str, Any] = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "format": "email"},
        "consent": {
            "type": "object",
            "required": ["purpose", "text_version"],
            "properties": {"purpose": {"type": "string"}, "text_version": {"type": "string"}},
        },
        "_gotcha": {"type": "string", "description": "honeypot: leave empty"},
    },
    "additionalProperties": True,
}
WEBHOOK_BODY: dict[str, Any] = {
    "type": ["object", "array"],
    "description": "Generic senders: {type, timestamp, data}; HubSpot: its array of events.",
    "properties": {"type": {"type": "string"}, "timestamp": _TIME, "data": _OBJECT},
}


def request_body(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media in media_types},
        }
    }

"""Webhook signature checks. Pure: the current time is passed in, so published test vectors with
old timestamps can be checked with the tolerance apart."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from leadpipe.ingest.domain.refusals import Unauthorised

TOLERANCE_S = 5 * 60
SECRET_PREFIX = "whsec_"


def _b64_hmac(key: bytes, content: bytes) -> str:
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the secret after ``whsec_``."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except binascii.Error as exc:
        raise ValueError("the source's secret is not whsec_<base64>") from exc
    return "v1," + _b64_hmac(key, f"{msg_id}.{timestamp}.".encode() + body)


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now_s: float
) -> str:
    """Checks ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``; returns the
    message id (the sender's de-duplication key)."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signatures),
    ):
        if not value:
            raise Unauthorised(name, "header is required")
    assert msg_id is not None and timestamp is not None and signatures is not None
    try:
        sent_s = int(timestamp)
    except ValueError as exc:
        raise Unauthorised("webhook-timestamp", "must be Unix seconds") from exc
    if abs(now_s - sent_s) > TOLERANCE_S:
        raise Unauthorised("webhook-timestamp", "is outside the 5-minute tolerance")
    expected = standard_webhooks_signature(secret, msg_id, timestamp, body)
    for candidate in signatures.split(" "):
        if hmac.compare_digest(candidate.strip().encode(), expected.encode()):
            return msg_id
    raise Unauthorised("webhook-signature", "no signature matches")


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64 HMAC-SHA256 of method + full URI + body + timestamp (milliseconds)."""
    content = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return _b64_hmac(secret.encode(), content)


def verify_hubspot_v3(
    secret: str, method: str, uri: str, headers: Mapping[str, str], body: bytes, *, now_s: float
) -> None:
    signature = headers.get("x-hubspot-signature-v3")
    timestamp = headers.get("x-hubspot-request-timestamp")
    if not signature:
        raise Unauthorised("X-HubSpot-Signature-v3", "header is required")
    if not timestamp:
        raise Unauthorised("X-HubSpot-Request-Timestamp", "header is required")
    try:
        sent_ms = int(timestamp)
    except ValueError as exc:
        raise Unauthorised("X-HubSpot-Request-Timestamp", "must be Unix milliseconds") from exc
    # Both ways: a timestamp far ahead would let a captured request be replayed until then.
    if abs(now_s * 1000 - sent_ms) > TOLERANCE_S * 1000:
        raise Unauthorised("X-HubSpot-Request-Timestamp", "is outside the 5-minute tolerance")
    expected = hubspot_v3_signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise Unauthorised("X-HubSpot-Signature-v3", "does not match")

"""Inbound events as ingest would normalise them, for the tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import JsonValue

from leadpipe.shared.events import Identity, InboundEvent


def form_submitted(
    email: str,
    form_id: str = "demo-request",
    *,
    traits: dict[str, JsonValue] | None = None,
    properties: dict[str, JsonValue] | None = None,
) -> InboundEvent:
    """A form post by ``email``; ``traits`` and ``properties`` add to the email and form id."""
    now = datetime.now(UTC)
    return InboundEvent(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        received_at=now,
        name="form_submitted",
        lead_key=email,
        source=f"form:{form_id}",
        identity=Identity(email=email),
        traits={"email": email, **(traits or {})},
        properties={"form_id": form_id, **(properties or {})},
    )


def contacted(email: str, at: datetime | None = None) -> InboundEvent:
    """The CRM's word that a rep reached ``email``, at ``at`` (now if not given)."""
    at = at or datetime.now(UTC)
    return InboundEvent(
        event_id=str(uuid.uuid4()),
        occurred_at=at,
        received_at=at,
        name="lead_contacted",
        lead_key=email,
        source="webhook:crm",
        identity=Identity(email=email),
    )

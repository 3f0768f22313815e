"""Inbound events for scoring tests, built the way ingest builds them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import JsonValue

from leadpipe.shared.events import Identity, InboundEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def inbound(
    name: str,
    *,
    at: datetime = T0,
    email: str | None = "max@mustermann.example",
    anonymous_id: str | None = None,
    traits: dict[str, JsonValue] | None = None,
    properties: dict[str, JsonValue] | None = None,
    event_id: str | None = None,
) -> InboundEvent:
    return InboundEvent(
        event_id=event_id or str(uuid.uuid4()),
        occurred_at=at,
        received_at=at,
        name=name,
        lead_key=email or anonymous_id or "unknown",
        source="test",
        identity=Identity(email=email, anonymous_id=anonymous_id),
        traits=traits or {},
        properties=properties or {},
    )


def demo_request(at: datetime = T0, email: str = "max@mustermann.example") -> InboundEvent:
    """The demo's form post: a decision maker at a mid-sized DACH manufacturer, budget yes."""
    return inbound(
        "form_submitted",
        at=at,
        email=email,
        traits={
            "email": email,
            "title": "Geschäftsführer",
            "company_size": 120,
            "industry": "Maschinenbau",
            "country": "DE",
        },
        properties={"form_id": "demo-request", "budget": "yes"},
    )

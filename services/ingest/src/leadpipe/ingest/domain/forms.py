"""Turning a form post into a normalised inbound event."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import JsonValue

from leadpipe.ingest.domain.emails import normalise_email
from leadpipe.ingest.domain.refusals import FieldError
from leadpipe.ingest.domain.storable import check_counts, storable_json
from leadpipe.shared.events import Consent, Identity, InboundEvent

__all__ = ["HONEYPOT_FIELD", "FieldError", "form_event", "html_fields", "normalise_email"]

MAX_FIELD_LENGTH = 2000
# A field hidden from people by the form's CSS: only bots fill it in.
HONEYPOT_FIELD = "_gotcha"
# An HTML form cannot post an object: consent comes as two flat fields.
CONSENT_FIELDS = {"consent_purpose": "purpose", "consent_text_version": "text_version"}
# Form fields that describe the person; everything else is a property of the submission.
TRAIT_FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "company",
        "title",
        "phone",
        "country",
        "industry",
        "company_size",
        "language",
    }
)


def html_fields(posted: Mapping[str, str]) -> dict[str, JsonValue]:
    """A plain HTML form post in the shape of a JSON one (consent folded into an object)."""
    fields: dict[str, JsonValue] = {k: v for k, v in posted.items() if k not in CONSENT_FIELDS}
    consent: dict[str, JsonValue] = {
        CONSENT_FIELDS[k]: v for k, v in posted.items() if k in CONSENT_FIELDS and v
    }
    if consent:
        fields["consent"] = consent
    return fields


def lead_key_for(email: str) -> str:
    """The Kafka key of a known lead: its normalised email keeps its events on one partition."""
    return email


def _consent(raw: JsonValue, received_at: datetime) -> Consent | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FieldError("consent", "must be an object with purpose and text_version")
    purpose, version = raw.get("purpose"), raw.get("text_version")
    if not isinstance(purpose, str) or not purpose:
        raise FieldError("consent.purpose", "is required when consent is given")
    if not isinstance(version, str) or not version:
        raise FieldError("consent.text_version", "is required when consent is given")
    return Consent(purpose=purpose, text_version=version, granted_at=received_at)


def form_event(
    form_id: str,
    fields: Mapping[str, JsonValue],
    *,
    source: str,
    received_at: datetime,
    event_id: str | None = None,
) -> InboundEvent:
    """The ``form_submitted`` event for a post of ``fields`` to form ``form_id``."""
    for name, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_LENGTH:
            raise FieldError(name, f"is longer than {MAX_FIELD_LENGTH} characters")
    storable_json(fields)
    check_counts(fields)
    email = normalise_email(fields.get("email"))
    traits: dict[str, JsonValue] = {k: v for k, v in fields.items() if k in TRAIT_FIELDS}
    traits["email"] = email
    properties: dict[str, JsonValue] = {
        k: v
        for k, v in fields.items()
        if k not in TRAIT_FIELDS and k not in {"consent", HONEYPOT_FIELD}
    }
    properties["form_id"] = form_id
    return InboundEvent(
        event_id=event_id or str(uuid.uuid4()),
        occurred_at=received_at,
        received_at=received_at,
        name="form_submitted",
        lead_key=lead_key_for(email),
        source=source,
        identity=Identity(email=email),
        traits=traits,
        properties=properties,
        consent=_consent(fields.get("consent"), received_at),
    )

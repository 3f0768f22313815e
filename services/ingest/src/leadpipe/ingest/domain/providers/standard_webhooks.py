"""``--kind webhook``: any sender of the Standard Webhooks scheme (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``) posting ``{type, timestamp, data}``; created
``--unsigned``, a token instead of signatures."""

from __future__ import annotations

import base64
import secrets

from leadpipe.ingest.domain.idempotency import body_scoped
from leadpipe.ingest.domain.providers.contract import (
    Credential,
    CredentialRequest,
    Delivery,
    WebhookRequest,
)
from leadpipe.ingest.domain.providers.unsigned_token import new_token, verify_token
from leadpipe.ingest.domain.signatures import SECRET_PREFIX, verify_standard_webhook
from leadpipe.ingest.domain.sources import Source
from leadpipe.ingest.domain.webhooks import generic_event
from leadpipe.shared.events import InboundEvent


class StandardWebhooks:
    kind = "webhook"
    description = (
        "Standard Webhooks signatures, or a token when created --unsigned, "
        "on {type, timestamp, data}"
    )

    def new_credential(self, request: CredentialRequest) -> Credential:
        if request.unsigned:
            return new_token()
        secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        return Credential(secret, "secret", hashed=False)

    def verify(self, request: WebhookRequest, source: Source) -> Delivery:
        if source.secret is None:
            verify_token(request, source)
            # A sender without signatures may still name its deliveries.
            headers = request.headers
            delivery_id = headers.get("webhook-id") or body_scoped(
                headers.get("idempotency-key"), request.body
            )
            return Delivery(request.received_at, delivery_id)
        delivery_id = verify_standard_webhook(
            source.secret, request.headers, request.body, now_s=request.received_at.timestamp()
        )
        return Delivery(request.received_at, delivery_id)

    def to_events(self, body: object, delivery: Delivery, source: Source) -> list[InboundEvent]:
        return [
            generic_event(
                body,
                source=source.event_source,
                delivery_id=delivery.delivery_id,
                received_at=delivery.received_at,
            )
        ]


PROVIDER = StandardWebhooks()

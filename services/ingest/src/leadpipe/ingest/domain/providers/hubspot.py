"""``--kind hubspot``: a HubSpot app's contact subscriptions, signed with signature v3 by the
app's client secret."""

from __future__ import annotations

import secrets

from leadpipe.ingest.domain.providers.contract import (
    Credential,
    CredentialRequest,
    Delivery,
    WebhookRequest,
)
from leadpipe.ingest.domain.refusals import Unauthorised
from leadpipe.ingest.domain.signatures import verify_hubspot_v3
from leadpipe.ingest.domain.sources import Source
from leadpipe.ingest.domain.webhooks import hubspot_events
from leadpipe.shared.events import InboundEvent


class HubSpot:
    kind = "hubspot"
    description = "HubSpot's contact subscriptions, signed v3 with the app's client secret"

    def new_credential(self, request: CredentialRequest) -> Credential:
        return Credential(
            request.secret or secrets.token_urlsafe(32), "client secret", hashed=False
        )

    def verify(self, request: WebhookRequest, source: Source) -> Delivery:
        if source.secret is None:
            # Made with a client secret always: without one no signature can match.
            raise Unauthorised("source", "has no client secret")
        verify_hubspot_v3(
            source.secret,
            request.method,
            request.url,
            request.headers,
            request.body,
            now_s=request.received_at.timestamp(),
        )
        # Each event of the array carries its own id.
        return Delivery(request.received_at)

    def to_events(self, body: object, delivery: Delivery, source: Source) -> list[InboundEvent]:
        return hubspot_events(body, source=source.event_source, received_at=delivery.received_at)


PROVIDER = HubSpot()

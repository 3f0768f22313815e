"""The webhook providers ingest accepts, by source kind: the one place a new provider is
registered (see docs/webhook-providers.md)."""

from __future__ import annotations

from leadpipe.ingest.domain.providers import hubspot, standard_webhooks
from leadpipe.ingest.domain.providers.contract import (
    Credential,
    CredentialRequest,
    Delivery,
    WebhookProvider,
    WebhookRequest,
)
from leadpipe.ingest.domain.sources import SourceKind

PROVIDERS: dict[str, WebhookProvider] = {
    provider.kind: provider for provider in (standard_webhooks.PROVIDER, hubspot.PROVIDER)
}
# Every kind a source can be: the built-in ones with routes of their own, then the providers.
SOURCE_KINDS: tuple[str, ...] = (*(kind.value for kind in SourceKind), *PROVIDERS)

__all__ = [
    "PROVIDERS",
    "SOURCE_KINDS",
    "Credential",
    "CredentialRequest",
    "Delivery",
    "WebhookProvider",
    "WebhookRequest",
]

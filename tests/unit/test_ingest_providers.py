"""Webhook providers through their registry: what the route, the store and the CLI consult."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

from leadpipe.cli.main import app
from leadpipe.ingest.domain.idempotency import body_scoped
from leadpipe.ingest.domain.providers import (
    PROVIDERS,
    SOURCE_KINDS,
    CredentialRequest,
    WebhookRequest,
)
from leadpipe.ingest.domain.refusals import Unauthorised
from leadpipe.ingest.domain.signatures import hubspot_v3_signature
from leadpipe.ingest.domain.sources import Source, key_hash

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BODY = b'{"type": "lead_contacted", "data": {"email": "max@kunde.example"}}'


def _request(headers: dict[str, str], token: str | None = None) -> WebhookRequest:
    return WebhookRequest("POST", "https://in.example/v1/webhooks/crm", headers, token, BODY, NOW)


def test_the_registry_is_keyed_by_each_providers_kind_after_the_built_in_kinds() -> None:
    assert all(kind == provider.kind for kind, provider in PROVIDERS.items())
    assert ("segment", "form", *PROVIDERS) == SOURCE_KINDS
    assert {"webhook", "hubspot"} <= set(PROVIDERS)


def test_a_signed_webhook_delivery_is_verified_by_its_kinds_provider() -> None:
    provider = PROVIDERS["webhook"]
    credential = provider.new_credential(CredentialRequest())
    assert credential.value.startswith("whsec_") and not credential.hashed
    source = Source("crm", "webhook", secret=credential.value)
    signature = Webhook(credential.value).sign("msg_1", NOW, BODY.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": signature,
    }
    delivery = provider.verify(_request(headers), source)
    assert delivery.delivery_id == "msg_1"
    (event,) = provider.to_events(
        {"type": "lead_contacted", "data": {"userId": "u1"}}, delivery, source
    )
    assert (event.source, event.name) == ("webhook:crm", "lead_contacted")
    with pytest.raises(Unauthorised) as refused:
        provider.verify(_request({**headers, "webhook-id": "msg_2"}), source)
    assert refused.value.field == "webhook-signature"


def test_an_unsigned_webhook_source_checks_its_token_and_keeps_only_its_hash() -> None:
    provider = PROVIDERS["webhook"]
    credential = provider.new_credential(CredentialRequest(unsigned=True))
    assert credential.hashed
    source = Source("crm", "webhook", key_hash=key_hash(credential.value))
    delivery = provider.verify(_request({"idempotency-key": "k1"}, credential.value), source)
    # The key names the delivery together with its body: the same key with another body is
    # another delivery, not a retry to drop.
    assert delivery.delivery_id == body_scoped("k1", BODY)
    for token, reason in ((None, "is required"), ("guess", "is not this source's token")):
        with pytest.raises(Unauthorised) as refused:
            provider.verify(_request({}, token), source)
        assert refused.value.field == "token"
        assert reason in refused.value.reason


def test_a_hubspot_source_keeps_the_client_secret_it_was_given() -> None:
    provider = PROVIDERS["hubspot"]
    credential = provider.new_credential(CredentialRequest(secret="the-apps-secret"))
    assert (credential.value, credential.hashed) == ("the-apps-secret", False)
    source = Source("portal", "hubspot", secret=credential.value)
    sent_ms = str(int(NOW.timestamp() * 1000))
    url = "https://in.example/v1/webhooks/crm"
    headers = {
        "x-hubspot-signature-v3": hubspot_v3_signature(
            credential.value, "POST", url, BODY, sent_ms
        ),
        "x-hubspot-request-timestamp": sent_ms,
    }
    assert provider.verify(_request(headers), source).delivery_id is None


def test_source_add_offers_the_registered_kinds_and_refuses_others() -> None:
    result = CliRunner().invoke(
        app, ["source", "add", "crm", "--kind", "mailchimp"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "'mailchimp' is not one of segment, form, webhook, hubspot" in result.output

"""Signed webhooks against a running ingest: Standard Webhooks signed by the standardwebhooks
library, HubSpot v3, and the token fallback; the events are read back from Kafka."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from leadpipe.ingest.adapters.source_store import NewSource, SourceOptions
from leadpipe.ingest.domain.tracking import event_id_for
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import (
    IngestProcess,
    new_source,
    read_events,
    wait_for_source,
)
from tests.integration.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ingest(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IngestProcess]:
    process = IngestProcess(settings, tmp_path_factory.mktemp("ingest") / "ingest.log").start()
    yield process
    process.stop()


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers})


def _signed(secret: str, msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


async def _known(
    sessions: async_sessionmaker[AsyncSession],
    ingest: IngestProcess,
    kind: str,
    options: SourceOptions | None = None,
) -> NewSource:
    source = await new_source(sessions, kind, options)
    wait_for_source(lambda: _post(f"{ingest.url}/v1/webhooks/{source.name}", b"{}", {}), "source")
    return source


async def test_a_signed_webhook_becomes_one_event_even_when_redelivered(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _known(sessions, ingest, "webhook")
    assert source.credential.startswith("whsec_")
    email = f"hook.{uuid.uuid4().hex[:8]}@kunde.example"
    body = orjson.dumps(
        {
            "type": "lead_contacted",
            "timestamp": "2026-11-25T10:00:00Z",
            "data": {"email": email, "channel": "phone", "rep": "anna"},
        }
    )
    url = f"{ingest.url}/v1/webhooks/{source.name}"
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        first = _post(url, body, _signed(source.credential, "msg_1", body, datetime.now(UTC)))
        assert first.status_code == 200, first.text
        # The sender retries the same delivery later, signed again.
        again = _post(url, body, _signed(source.credential, "msg_1", body, datetime.now(UTC)))
        assert again.status_code == 200, again.text
        events = await read_events(reader, {email}, 2, settings.database_url)
    assert {e.name for e in events} == {"lead_contacted"}
    assert {e.event_id for e in events} == {event_id_for(f"webhook:{source.name}", "msg_1")}
    assert events[0].properties == {"channel": "phone", "rep": "anna"}
    assert events[0].occurred_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def test_bad_signatures_and_stale_timestamps_are_refused(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _known(sessions, ingest, "webhook")
    body = b'{"type": "lead_contacted", "data": {"email": "a@kunde.example"}}'
    url = f"{ingest.url}/v1/webhooks/{source.name}"
    other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    stale = datetime.fromtimestamp(time.time() - 600, UTC)
    cases = [
        (_signed(other_secret, "msg_2", body, datetime.now(UTC)), "webhook-signature"),
        (_signed(source.credential, "msg_3", body, stale), "webhook-timestamp"),
        ({}, "webhook-id"),
    ]
    for headers, field in cases:
        response = _post(url, body, headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["field"] == field
    unknown = _post(f"{ingest.url}/v1/webhooks/nobody-{uuid.uuid4().hex[:6]}", body, {})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (401, "source")


async def test_an_unsigned_sender_uses_its_token_in_the_url_or_as_basic_password(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _known(sessions, ingest, "webhook", SourceOptions(unsigned=True))
    email = f"token.{uuid.uuid4().hex[:8]}@kunde.example"
    body = orjson.dumps({"type": "email_clicked", "data": {"email": email}})
    url = f"{ingest.url}/v1/webhooks/{source.name}"
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        in_url = _post(f"{url}?token={source.credential}", body, {})
        assert in_url.status_code == 200, in_url.text
        basic = base64.b64encode(f"mailchimp:{source.credential}".encode()).decode()
        as_basic = _post(url, body, {"Authorization": f"Basic {basic}"})
        assert as_basic.status_code == 200, as_basic.text
        events = await read_events(reader, {email}, 2, settings.database_url)
    assert [e.name for e in events] == ["email_clicked", "email_clicked"]
    wrong = _post(f"{url}?token=guess", body, {})
    assert (wrong.status_code, wrong.json()["error"]["field"]) == (401, "token")


def _hubspot_headers(secret: str, url: str, body: bytes, at_ms: int) -> dict[str, str]:
    content = b"POST" + url.encode() + body + str(at_ms).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest())
    return {
        "X-HubSpot-Signature-v3": signature.decode(),
        "X-HubSpot-Request-Timestamp": str(at_ms),
    }


async def test_hubspot_contact_webhooks_signed_v3_become_events(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    secret = str(uuid.uuid4())
    source = await _known(sessions, ingest, "hubspot", SourceOptions(client_secret=secret))
    assert source.credential == secret
    email = f"hubspot.{uuid.uuid4().hex[:8]}@kunde.example"
    object_id = int(time.time() * 1000)
    body = orjson.dumps(
        [
            {
                "eventId": 1,
                "subscriptionType": "contact.propertyChange",
                "objectId": object_id,
                "propertyName": "email",
                "propertyValue": email,
                "occurredAt": 1764071880000,
            }
        ]
    )
    url = f"{ingest.url}/v1/webhooks/{source.name}"
    now_ms = int(time.time() * 1000)
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        response = _post(url, body, _hubspot_headers(secret, url, body, now_ms))
        assert response.status_code == 200, response.text
        (event,) = await read_events(reader, {email}, 1, settings.database_url)
    assert event.name == "hubspot_contact_property_changed"
    assert event.identity.user_id == f"hubspot:{object_id}"
    old = _post(url, body, _hubspot_headers(secret, url, body, now_ms - 6 * 60 * 1000))
    assert (old.status_code, old.json()["error"]["field"]) == (
        401,
        "X-HubSpot-Request-Timestamp",
    )
    future = _post(url, body, _hubspot_headers(secret, url, body, now_ms + 365 * 86_400_000))
    assert (future.status_code, future.json()["error"]["field"]) == (
        401,
        "X-HubSpot-Request-Timestamp",
    )


async def test_a_replayed_hubspot_delivery_without_event_id_is_one_event(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    secret = str(uuid.uuid4())
    source = await _known(sessions, ingest, "hubspot", SourceOptions(client_secret=secret))
    email = f"hubspot.{uuid.uuid4().hex[:8]}@kunde.example"
    change = {
        "subscriptionType": "contact.propertyChange",
        "objectId": int(time.time() * 1000),
        "propertyName": "email",
        "propertyValue": email,
        "occurredAt": 1764071880000,
    }
    url = f"{ingest.url}/v1/webhooks/{source.name}"
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        for attempt in (0, 1):
            body = orjson.dumps([{**change, "attemptNumber": attempt}])
            headers = _hubspot_headers(secret, url, body, int(time.time() * 1000))
            response = _post(url, body, headers)
            assert response.status_code == 200, response.text
        events = await read_events(reader, {email}, 2, settings.database_url)
    assert len({e.event_id for e in events}) == 1

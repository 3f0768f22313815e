"""The Segment-compatible API, driven by the real client libraries against a running ingest;
the events are read back from Kafka."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from rudderstack.analytics.client import Client as RudderClient  # type: ignore[import-untyped]
from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.source_store import NewSource, revoke_source
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.ingest.domain.tracking import event_id_for
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import (
    IngestProcess,
    new_source,
    read_events,
    wait_for_revocation,
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


async def _segment_source(
    sessions: async_sessionmaker[AsyncSession], ingest: IngestProcess
) -> NewSource:
    source = await new_source(sessions, SourceKind.SEGMENT)
    answer = wait_for_source(
        lambda: httpx.post(f"{ingest.url}/v1/batch", json={"writeKey": source.credential}),
        "writeKey",
    )
    assert answer.status_code == 400, answer.text  # known now: only the missing batch is wrong
    return source


async def test_segment_python_client_calls_land_on_kafka(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    email = f"seg.{uuid.uuid4().hex[:8]}@kunde.example"
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    client = SegmentClient(source.credential, host=ingest.url, sync_mode=True)
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        client.identify(user_id, {"email": email, "title": "CTO"}, message_id="m-identify")
        client.track(
            user_id,
            "Whitepaper Downloaded",
            {"title": "Lead scoring"},
            context={"traits": {"email": email}},
        )
        client.page(user_id, "Docs", "Pricing")
        events = await read_events(reader, {email, user_id}, 3, settings.database_url)
    by_key = {e.name: e for e in events}
    identify, track, page = by_key["identify"], by_key["track"], by_key["page"]
    assert identify.lead_key == email
    assert identify.event_id == event_id_for(f"segment:{source.name}", "m-identify")
    assert identify.traits["title"] == "CTO"
    assert identify.identity.user_id == user_id
    assert identify.context["library"] == {"name": "analytics-python", "version": "2.4.0"}
    assert track.lead_key == email
    assert track.properties == {"title": "Lead scoring", "event": "Whitepaper Downloaded"}
    assert page.lead_key == user_id
    assert page.properties["name"] == "Pricing"
    assert track.source == f"segment:{source.name}"


async def test_rudderstack_client_sends_gzip_batches_that_land_on_kafka(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    email = f"rudder.{uuid.uuid4().hex[:8]}@kunde.example"
    client = RudderClient(source.credential, host=ingest.url, sync_mode=True)
    assert client.gzip
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        client.identify("r-1", {"email": email, "company": "Kunde AG"})
        client.track("r-1", "Demo Requested", context={"traits": {"email": email}})
        events = await read_events(reader, {email}, 2, settings.database_url)
    assert [e.name for e in events] == ["identify", "track"]
    assert events[0].traits["company"] == "Kunde AG"
    assert events[0].context["integrations"] == {"All": True}
    assert events[1].properties["event"] == "Demo Requested"


async def test_segment_client_batches_from_its_queue_land_on_kafka(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    anonymous_id = uuid.uuid4().hex
    client = SegmentClient(source.credential, host=ingest.url, upload_size=50)
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        for n in range(5):
            client.track(anonymous_id=anonymous_id, event=f"Step {n}")
        client.flush()
        client.join()
        events = await read_events(reader, {f"anon:{anonymous_id}"}, 5, settings.database_url)
    steps = [e.properties["event"] for e in events]
    assert steps == [f"Step {n}" for n in range(5)]


def _post(url: str, body: Mapping[str, object], **headers: str) -> httpx.Response:
    return httpx.post(
        url, content=orjson.dumps(body), headers={"Content-Type": "application/json", **headers}
    )


def _send(
    url: str, *, content: bytes, auth: tuple[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(url, content=content, auth=auth, headers=headers)


async def test_analytics_js_style_post_with_skewed_clock(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    anonymous_id = uuid.uuid4().hex
    # The browser's clock is two hours behind; the page view happened 3 s before sending.
    skew = timedelta(hours=2)
    sent = datetime.now(UTC) - skew
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        response = _post(
            f"{ingest.url}/v1/p",
            {
                "writeKey": source.credential,
                "anonymousId": anonymous_id,
                "userId": None,
                "name": "Pricing",
                "timestamp": (sent - timedelta(seconds=3)).isoformat().replace("+00:00", "Z"),
                "sentAt": sent.isoformat(),
            },
            **{"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://www.kunde.example"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True}
        assert response.headers["access-control-allow-origin"] == "*"
        (page,) = await read_events(reader, {f"anon:{anonymous_id}"}, 1, settings.database_url)
    assert page.name == "page"
    # On the server's clock: 3 s before arrival, not two hours in the past.
    assert page.received_at - page.occurred_at == timedelta(seconds=3)
    assert page.occurred_at > sent + timedelta(hours=1)


async def test_a_gzipped_batch_with_basic_auth_is_accepted(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    user_id = f"gz-{uuid.uuid4().hex[:8]}"
    body = {
        "batch": [{"type": "identify", "userId": user_id, "traits": {"plan": "pro"}}],
        "context": {"library": {"name": "analytics-node"}},
    }
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        response = _send(
            f"{ingest.url}/v1/batch",
            content=gzip.compress(orjson.dumps(body)),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            auth=(source.credential, ""),
        )
        assert response.status_code == 200, response.text
        (identify,) = await read_events(reader, {user_id}, 1, settings.database_url)
    assert identify.context["library"] == {"name": "analytics-node"}


async def test_a_repeated_message_id_is_one_event_across_instances_and_restarts(
    ingest: IngestProcess,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    source = await _segment_source(sessions, ingest)
    user_id = f"dup-{uuid.uuid4().hex[:8]}"
    call = {"writeKey": source.credential, "userId": user_id, "event": "x", "messageId": "m-1"}
    second = IngestProcess(settings, tmp_path_factory.mktemp("second") / "ingest.log").start()
    try:
        async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
            assert _post(f"{ingest.url}/v1/track", call).status_code == 200
            assert _post(f"{second.url}/v1/track", call).status_code == 200
            second.stop()
            second.start()
            assert _post(f"{second.url}/v1/track", call).status_code == 200
            events = await read_events(reader, {user_id}, 3, settings.database_url)
    finally:
        second.stop()
    ids = {e.event_id for e in events}
    # Three deliveries, one event id: consumers keep the first and drop the others by id.
    assert ids == {event_id_for(f"segment:{source.name}", "m-1")}


async def test_refusals_name_the_field_and_the_reason(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    key = source.credential
    url = f"{ingest.url}/v1/track"
    cases = [
        (_post(url, {"userId": "u", "event": "x"}), 401, "writeKey"),
        (_post(url, {"writeKey": "nope", "userId": "u", "event": "x"}), 401, "writeKey"),
        (_send(url, content=b"{not json", auth=(key, "")), 400, "body"),
        (_post(url, {"writeKey": key, "event": "x"}), 400, "userId"),
        (_post(url, {"writeKey": key, "userId": "u"}), 422, "event"),
        (
            _post(url, {"writeKey": key, "userId": "u", "event": "x"}, **{"Content-Type": "x/y"}),
            415,
            "Content-Type",
        ),
        (
            _post(url, {"writeKey": key, "userId": "u", "event": "x" * 40_000}),
            413,
            "body",
        ),
        (
            _post(
                f"{ingest.url}/v1/batch",
                {
                    "writeKey": key,
                    "batch": [{"type": "track", "userId": "u", "event": "x" * 600_000}],
                },
            ),
            413,
            "body",
        ),
    ]
    nested: dict[str, object] = {}
    for _ in range(100):
        nested = {"a": nested}
    cases.append(
        (
            _post(url, {"writeKey": key, "userId": "u", "event": "x", "properties": nested}),
            400,
            "body",
        )
    )
    for response, status, field in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["field"] == field, response.text
        assert response.json()["error"]["reason"]


async def test_a_revoked_write_key_is_refused_within_seconds(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _segment_source(sessions, ingest)
    call = {"writeKey": source.credential, "userId": "u", "event": "x"}
    assert _post(f"{ingest.url}/v1/track", call).status_code == 200
    async with sessions() as session, session.begin():
        assert await revoke_source(session, source.name, datetime.now(UTC))
    refused = wait_for_revocation(lambda: _post(f"{ingest.url}/v1/track", call))
    assert refused.status_code == 401
    assert refused.json()["error"]["field"] == "writeKey"

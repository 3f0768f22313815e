"""Form posts against a running ingest: plain HTML posts, CORS per form source, the honeypot,
consent; and the limits every sender meets (rate limit, Kafka not acknowledging)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.source_store import NewSource, SourceOptions
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import IngestProcess, new_source, read_events, wait_until
from tests.integration.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration
SITE = "https://www.kunde.example"
THANKS = "https://www.kunde.example/danke"


@pytest.fixture(scope="module")
def ingest(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IngestProcess]:
    process = IngestProcess(settings, tmp_path_factory.mktemp("ingest") / "ingest.log").start()
    yield process
    process.stop()


def _html_post(url: str, fields: dict[str, str], origin: str | None = None) -> httpx.Response:
    return httpx.post(url, data=fields, headers={"Origin": origin} if origin else {})


async def _form_source(
    sessions: async_sessionmaker[AsyncSession], ingest: IngestProcess
) -> NewSource:
    source = await new_source(
        sessions, SourceKind.FORM, SourceOptions(allowed_origins=(SITE,), thank_you_url=THANKS)
    )
    # Known once the form's preflight refuses other origins.
    url = f"{ingest.url}/v1/forms/{source.name}"
    known = wait_until(
        lambda: _preflight(url, "https://evil.example"), lambda r: r.status_code == 403
    )
    assert known.status_code == 403
    return source


def _json_post(
    url: str, fields: dict[str, object], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(url, json=fields, headers=headers)


def _preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        url,
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )


async def test_a_plain_html_post_redirects_to_the_thank_you_page_with_consent_carried(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _form_source(sessions, ingest)
    email = f"html.{uuid.uuid4().hex[:8]}@kunde.example"
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        response = _html_post(
            f"{ingest.url}/v1/forms/{source.name}",
            {
                "email": email,
                "title": "CTO",
                "_gotcha": "",
                "consent_purpose": "sales_contact",
                "consent_text_version": "2026-01",
            },
            origin=SITE,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == THANKS
        assert response.headers["access-control-allow-origin"] == SITE
        (event,) = await read_events(reader, {email}, 1, settings.database_url)
    assert event.name == "form_submitted"
    assert event.traits["title"] == "CTO"
    assert event.consent is not None
    assert (event.consent.purpose, event.consent.text_version) == ("sales_contact", "2026-01")
    assert "_gotcha" not in event.properties


async def test_cors_allows_only_the_form_sources_origins(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await _form_source(sessions, ingest)
    url = f"{ingest.url}/v1/forms/{source.name}"
    allowed = _preflight(url, SITE)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = _json_post(
        url, {"email": "x@kunde.example"}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "Origin"
    # A form nobody registered stays open to every site.
    unregistered = _preflight(f"{ingest.url}/v1/forms/contact-{uuid.uuid4().hex[:6]}", SITE)
    assert unregistered.headers["access-control-allow-origin"] == "*"


async def test_a_bot_filling_the_honeypot_is_answered_but_not_forwarded(
    ingest: IngestProcess, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"bot.{uuid.uuid4().hex[:8]}@kunde.example"
    url = f"{ingest.url}/v1/forms/contact"
    async with TopicReader(settings.kafka_bootstrap, settings.topics.lead_events) as reader:
        bot = _json_post(url, {"email": email, "_gotcha": "http://spam.example", "n": 1})
        assert bot.status_code == 202
        assert bot.json()["success"] is True
        # The same lead (same key, same partition, so read in order) then posts for real.
        person = _json_post(url, {"email": email, "n": 2})
        assert person.status_code == 202
        (first,) = await read_events(reader, {email}, 1, settings.database_url)
    assert first.properties["n"] == 2


def test_other_media_types_are_refused_with_415(ingest: IngestProcess) -> None:
    response = httpx.post(
        f"{ingest.url}/v1/forms/contact",
        content=b"email=a@b.example",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["field"] == "Content-Type"


@pytest.mark.parametrize("form_id", ["contact%0A", "a" * 101, "con%20tact"])
def test_a_malformed_form_id_is_refused_naming_it(ingest: IngestProcess, form_id: str) -> None:
    response = httpx.post(f"{ingest.url}/v1/forms/{form_id}", json={"email": "a@kunde.example"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "form_id"


@pytest.fixture(scope="module")
def strict_ingest(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IngestProcess]:
    process = IngestProcess(
        settings,
        tmp_path_factory.mktemp("strict") / "ingest.log",
        LEADPIPE_SOURCE_RATE_PER_S="0.1",
        LEADPIPE_SOURCE_RATE_BURST="2",
    ).start()
    yield process
    process.stop()


def test_a_source_over_its_rate_gets_429_with_retry_after(strict_ingest: IngestProcess) -> None:
    url = f"{strict_ingest.url}/v1/forms/rate-{uuid.uuid4().hex[:6]}"
    answers = [httpx.post(url, json={"email": f"r{n}@kunde.example"}) for n in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert "too many events" in answers[2].json()["error"]["reason"]
    metrics = httpx.get(f"{strict_ingest.url}/metrics").text
    assert (
        'leadpipe_ingest_requests_refused_total{reason="rate_limited",source="form:unregistered"} 1.0'
        in metrics
    )
    assert 'leadpipe_ingest_events_accepted_total{source="form:' in metrics


def test_kafka_not_acknowledging_in_time_is_503_with_retry_after(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A bound no broker can meet: the client must hear 503, never a 2xx for a lost event.
    process = IngestProcess(
        settings,
        tmp_path_factory.mktemp("impatient") / "ingest.log",
        LEADPIPE_KAFKA_ACK_TIMEOUT_S="0.000001",
    ).start()
    try:
        response = httpx.post(f"{process.url}/v1/forms/contact", json={"email": "a@kunde.example"})
    finally:
        process.stop()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["reason"] == "the event could not be stored; retry later"

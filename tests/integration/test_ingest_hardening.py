"""A running ingest against slow clients, unstorable input, reused idempotency keys and
unbounded form ids: each answered in its refusal shape, none kept waiting or counted apart."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.source_store import SourceOptions
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import (
    IngestProcess,
    new_source,
    wait_for_source,
    wait_until,
)

pytestmark = pytest.mark.integration
REQUEST_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def ingest(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IngestProcess]:
    process = IngestProcess(
        settings,
        tmp_path_factory.mktemp("hardened") / "ingest.log",
        LEADPIPE_REQUEST_TIMEOUT_S=str(REQUEST_TIMEOUT_S),
    ).start()
    yield process
    process.stop()


def _trickle(ingest: IngestProcess, opening: bytes, then: bytes) -> tuple[int, bytes]:
    """Sends ``opening``, then ``then`` one byte a second (a minute's worth: far longer than
    the server's deadline); returns how many of those bytes went out before the server
    answered or closed, and what it answered."""
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", ingest.port), timeout=1.0) as client:
        client.sendall(opening)
        for byte in then:
            try:
                client.sendall(bytes([byte]))
            except OSError:  # closed while this byte was on its way: the answer may be read
                break
            sent += 1
            try:
                answer = client.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
        with contextlib.suppress(OSError):
            while chunk := client.recv(4096):  # the rest of the answer, up to the close
                answer += chunk
    return sent, answer


def test_headers_sent_a_byte_a_second_are_cut_off_at_the_deadline(ingest: IngestProcess) -> None:
    trickled = b"X-Slow: " + b"a" * 60
    sent, answer = _trickle(ingest, b"POST /v1/forms/slow HTTP/1.1\r\nHost: ingest\r\n", trickled)
    # Cut off while the client was still sending: the deadline, not the client, ended it.
    assert sent < len(trickled)
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_body_sent_a_byte_a_second_is_cut_off_at_the_deadline(ingest: IngestProcess) -> None:
    body = b'{"email": "slow@kunde.example", "note": "' + b"a" * 60 + b'"}'
    head = (
        b"POST /v1/forms/slow HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    sent, answer = _trickle(ingest, head, body)
    assert sent < len(body)
    assert answer.startswith(b"HTTP/1.1 408")
    # The endpoint, left reading a body that never comes, ends quietly: no error, no trace.
    time.sleep(0.5)
    assert "Traceback" not in ingest.log.read_text()


def test_a_connection_that_sends_nothing_is_closed(ingest: IngestProcess) -> None:
    # The socket's own timeout only keeps a broken server from hanging the suite.
    with socket.create_connection(("127.0.0.1", ingest.port), timeout=30) as c:
        assert c.recv(4096).startswith(b"HTTP/1.1 408")


def test_a_request_sent_in_time_is_answered_and_the_connection_kept(
    ingest: IngestProcess,
) -> None:
    with httpx.Client(base_url=ingest.url) as client:
        for _ in range(2):
            answer = client.post("/v1/forms/quick", json={"email": "quick@kunde.example"})
            assert answer.status_code == 202
            time.sleep(REQUEST_TIMEOUT_S * 0.75)  # idle between requests is no slow request


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@kunde.example", "first_name": "x\u0000y"}, "first_name"),
        ({"email": "a@kunde.example", "company_size": "10000000000"}, "company_size"),
        ({"email": "a@kunde.example", "n": 2**63}, "n"),
    ],
)
def test_unstorable_form_fields_are_refused_naming_them(
    ingest: IngestProcess, body: dict[str, object], field: str
) -> None:
    answer = httpx.post(f"{ingest.url}/v1/forms/contact", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field
    assert answer.json()["success"] is False


async def test_timestamps_beyond_utc_are_refused_not_a_server_error(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source = await new_source(sessions, SourceKind.SEGMENT)
    assert source.credential is not None
    url = f"{ingest.url}/v1/track"
    auth = (source.credential, "")
    call = {"userId": "u-1", "event": "Visited", "timestamp": "0001-01-01T00:00:00+01:00"}
    first = wait_for_source(lambda: httpx.post(url, json=call, auth=auth), "writeKey")
    later = {**call, "timestamp": "9999-12-31T23:00:00-05:00"}
    batch = {"batch": [{**later, "type": "track"}]}
    async with httpx.AsyncClient(base_url=ingest.url, auth=auth) as client:
        answers = [
            first,
            await client.post("/v1/track", json=later),
            await client.post("/v1/batch", json=batch),
        ]
    for answer in answers:
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]["field"].endswith("timestamp")


def test_an_idempotency_key_reused_with_other_content_is_409(ingest: IngestProcess) -> None:
    url = f"{ingest.url}/v1/forms/contact"
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = httpx.post(url, json={"email": "anna@kunde.example"}, headers=key)
    retried = httpx.post(url, json={"email": "anna@kunde.example"}, headers=key)
    other = httpx.post(url, json={"email": "bert@kunde.example"}, headers=key)
    assert (first.status_code, retried.status_code) == (202, 202)
    assert first.json()["event_id"] == retried.json()["event_id"]
    assert other.status_code == 409
    assert other.json()["error"]["field"] == "Idempotency-Key"
    assert other.json()["code"] == "idempotency_key_reused"


async def test_unregistered_form_ids_share_one_metric_series(
    ingest: IngestProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    registered = await new_source(
        sessions, SourceKind.FORM, SourceOptions(allowed_origins=("https://kunde.example",))
    )
    url = f"{ingest.url}/v1/forms/{registered.name}"
    known = wait_until(
        lambda: httpx.options(url, headers={"Origin": "https://evil.example"}),
        lambda r: r.status_code == 403,
    )
    assert known.status_code == 403
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=ingest.url) as client:
        assert (await client.post(url, json={"email": "a@kunde.example"})).status_code == 202
        for n in range(5):
            sprayed = await client.post(f"/v1/forms/spray-{tag}-{n}", json={"email": "s@k.example"})
            assert sprayed.status_code == 202
        metrics = (await client.get("/metrics")).text
    assert f'source="form:{registered.name}"' in metrics
    assert 'leadpipe_ingest_events_accepted_total{source="form:unregistered"}' in metrics
    assert f"spray-{tag}" not in metrics

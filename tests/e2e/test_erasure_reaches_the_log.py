"""Erasure reaches the event log: after `leadpipe erase`, the person's email, names and phone
are nowhere: not in any table of any schema, not in any record of any topic (keys, headers,
values, opened with whatever keys are left), not in the services' logs; and their later
calls under a user id or anonymous id do not bring them back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from leadpipe.cli.demo import DEMO_REPS
from leadpipe.cli.main import app
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.shared.events import SealedInboundEvent
from leadpipe.shared.kafka import records_to_end, start_tail_reader
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.integration.ingest_process import new_source, wait_for_source
from tests.integration.kafka_helpers import TopicReader
from tests.sealed_events import data_keys, opened
from tests.service_processes import ServiceProcess, service_processes
from tests.stored_text import columns_holding

pytestmark = pytest.mark.e2e

SCHEMAS = ("scoring", "routing", "ingest")


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    phone: str
    user_id: str
    anonymous_id: str

    @property
    def record_keys(self) -> set[bytes]:
        """What the person's records may be keyed by."""
        lead_keys = (self.email, self.user_id, f"anon:{self.anonymous_id}")
        return {record_key(key).encode() for key in lead_keys}

    @property
    def needles(self) -> dict[str, str]:
        """What must be gone, each in the forms it may take."""
        return {
            "email": self.email,
            "first name": self.first_name,
            "last name": self.last_name,
            "phone": self.phone,
            "phone digits": self.phone.replace(" ", "").removeprefix("+"),
        }


@pytest.fixture(scope="module")
def services(
    settings: Settings, topics_created: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    running = service_processes(settings, tmp_path_factory.mktemp("erasure-logs"))
    try:
        for service in running.values():
            service.start()
        for service in running.values():
            service.wait_ready()
        yield running
    finally:
        for service in running.values():
            service.stop()


def _tracking(url: str, write_key: str, calls: list[dict[str, object]]) -> None:
    response = httpx.post(
        f"{url}/v1/batch", content=orjson.dumps({"batch": calls}), auth=(write_key, "")
    )
    assert response.status_code == 200, response.text


async def _scoring_knows(
    client: httpx.AsyncClient, services: dict[str, ServiceProcess], person: Person
) -> dict[str, object]:
    """The lead as scoring has it, once its events (sealed on the topic) were opened."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = await client.get(
            f"{services['scoring'].url}/v1/leads", params={"email": person.email}
        )
        if response.status_code == 200 and person.last_name in response.text:
            lead: dict[str, object] = response.json()
            return lead
        await asyncio.sleep(0.3)
    raise AssertionError(f"scoring never showed the lead:\n{services['scoring'].log_tail()}")


async def _records_holding(settings: Settings, needles: dict[str, str]) -> list[str]:
    """Every record on every topic of this installation, from the beginning of every
    partition, whose key, headers or value (sealed ones opened with the keys that are left)
    holds one of ``needles``."""
    reader = await start_tail_reader(settings.kafka_bootstrap, settings.topics.routed)
    try:
        topics = sorted(t for t in await reader.topics() if t.startswith(settings.topic_prefix))
    finally:
        await reader.stop()
    assert set(settings.topics.all()) <= set(topics)
    found = []
    for topic in topics:
        records = [record async for record in records_to_end(settings.kafka_bootstrap, topic)]
        sealed = [
            r
            for r in records
            if dict(r.headers).get("ce_type") == SealedInboundEvent.CE_TYPE.encode()
        ]
        opened_values = {
            id(r): (e.model_dump_json() if e is not None else "")
            for r, e in zip(sealed, await opened(sealed, settings.database_url), strict=True)
        }
        for record in records:
            readable = b"|".join(
                [
                    record.key or b"",
                    *(name.encode() + b"=" + value for name, value in record.headers),
                    record.value or b"",
                ]
            ).decode(errors="replace") + opened_values.get(id(record), "")
            # JSON may write a character as \u escape; the needles are ASCII, so both read so.
            for what, needle in needles.items():
                if needle.lower() in readable.lower():
                    found.append(f"{topic}[{record.partition}]@{record.offset}: {what}")
    return found


async def test_after_erasure_the_person_is_nowhere_and_stays_out(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    services: dict[str, ServiceProcess],
    api_headers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = uuid.uuid4().hex[:8]
    person = Person(
        email=f"vera.{run}@vergessen.example",
        first_name=f"Vera{run}",
        last_name=f"Vergessen{run}",
        phone=f"+49 30 {int(run, 16) % 10**8:08d}",
        user_id=f"user-{run}",
        anonymous_id=f"anon-{run}",
    )
    ingest, routing = services["ingest"].url, services["routing"].url
    async with httpx.AsyncClient(headers=api_headers, timeout=10) as client:
        if not (await client.get(f"{routing}/v1/reps")).json():
            for rep in DEMO_REPS:  # the reps the other end-to-end tests count on
                response = await client.post(f"{routing}/v1/reps", json=rep)
                assert response.status_code == 201, response.text
        source = await new_source(sessions, SourceKind.SEGMENT)
        wait_for_source(
            lambda: httpx.post(f"{ingest}/v1/batch", json={"writeKey": source.credential}),
            "writeKey",
        )
        async with TopicReader(settings.kafka_bootstrap, settings.topics.routed) as routed:
            # A visitor, then the same person identified, a group call carrying their own
            # contact details, and a demo request: every kind of personal field, every id.
            _tracking(
                ingest,
                source.credential,
                [
                    {"type": "page", "anonymousId": person.anonymous_id, "name": "Pricing"},
                    {
                        "type": "identify",
                        "userId": person.user_id,
                        "anonymousId": person.anonymous_id,
                        "traits": {
                            "email": person.email,
                            "firstName": person.first_name,
                            "lastName": person.last_name,
                            "phone": person.phone,
                        },
                    },
                    {
                        "type": "group",
                        "userId": person.user_id,
                        "groupId": f"g-{run}",
                        "traits": {
                            "name": "Vergessen AG",
                            "email": person.email,
                            "phone": person.phone,
                            "employees": 400,
                        },
                        "context": {"traits": {"email": person.email}},
                    },
                ],
            )
            response = await client.post(
                f"{ingest}/v1/forms/demo-request",
                json={
                    "email": person.email,
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "phone": person.phone,
                    "company": f"{person.last_name} GmbH",
                    "title": "Geschäftsführerin",
                    "budget": "yes",
                },
            )
            assert response.status_code == 202, response.text
            # The lead keeps the key it was first known by (the visitor's, when the page view
            # came first). Generous: a fresh consumer group first works through what earlier
            # tests left.
            await routed.wait_for(lambda record: record.key in person.record_keys, timeout_s=240)
        lead = await _scoring_knows(client, services, person)
        # The seal was there and opened before: the scan below is not vacuous.
        assert await _records_holding(settings, {"email": person.email}) != []
        assert await columns_holding(sessions, person.last_name, SCHEMAS) != []

        listed = tmp_path / "erase.txt"
        listed.write_text(f"# requests\n{person.email}\nnever.seen.{run}@vergessen.example\n")
        monkeypatch.setenv("LEADPIPE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
        monkeypatch.setenv("LEADPIPE_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("LEADPIPE_SCORING_PORT", str(services["scoring"].port))
        monkeypatch.setenv("LEADPIPE_API_TOKEN", api_headers["Authorization"].split()[1])
        monkeypatch.setenv("COLUMNS", "200")
        erased = await asyncio.to_thread(CliRunner().invoke, app, ["erase", "--file", str(listed)])
        assert erased.exit_code == 0, erased.output
        assert erased.output.count("erasure ") == 2
        assert "2 of 2 people erased; 0 failed" in erased.output
        assert person.email not in erased.output

        # Later calls under the user id or the anonymous id alone, with the erased names.
        _tracking(
            ingest,
            source.credential,
            [
                {
                    "type": "identify",
                    "userId": person.user_id,
                    "traits": {"firstName": person.first_name, "lastName": person.last_name},
                },
                {
                    "type": "identify",
                    "anonymousId": person.anonymous_id,
                    "traits": {"lastName": person.last_name, "phone": person.phone},
                },
            ],
        )

    # Routing erases its part when it reads lead.erased; scoring skips what it cannot open.
    deadline = time.monotonic() + 60
    while True:
        in_tables = {
            what: places
            for what, needle in person.needles.items()
            if (places := await columns_holding(sessions, needle, SCHEMAS))
        }
        if not in_tables or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert in_tables == {}
    assert await _records_holding(settings, person.needles) == []
    for name, service in services.items():
        log = service.log_file.read_text(errors="replace").lower()
        assert [w for w, n in person.needles.items() if n.lower() in log] == [], name

    # The keys are shredded: what is left of the person on the topics cannot be opened.
    subjects = {
        record_key(k) for k in (person.email, person.user_id, f"anon:{person.anonymous_id}")
    }
    assert set((await data_keys(settings.database_url, subjects)).values()) == {None}
    # Anonymous aggregates stay: the lead is counted in its stage, without a person.
    async with sessions() as session:
        stage = await session.scalar(
            text("SELECT stage FROM scoring.leads WHERE id = :id"), {"id": lead["id"]}
        )
    assert stage is not None

"""Two routing processes in one consumer group share one fair rotation: the distribution is
the one a single instance gives, because the rotation and capacity live in PostgreSQL under
row locks."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.shared.envelope import from_record, unwrap, wrap
from leadpipe.shared.events import LeadRouted
from leadpipe.shared.kafka import make_producer, publish
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader
from tests.integration.routing_helpers import became_sql, clean_routing
from tests.service_processes import service_processes

pytestmark = pytest.mark.integration
LEADS = 30


@pytest.fixture
def two_routers(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    # Fresh topics: only this test's leads reach these two instances.
    fresh = settings.model_copy(
        update={"topic_prefix": f"{settings.topic_prefix}fair{uuid.uuid4().hex[:6]}."}
    )
    routers = []
    for index in range(2):
        logs = tmp_path / f"routing-{index}"
        logs.mkdir()
        routers.append(service_processes(fresh, logs)["routing"])
    try:
        for router in routers:
            router.start()
            router.wait_ready()
        yield fresh, [router.url for router in routers]
    finally:
        for router in routers:
            router.stop()


async def test_two_instances_give_the_distribution_of_one(
    two_routers: tuple[Settings, list[str]],
    sessions: async_sessionmaker[AsyncSession],
    api_headers: dict[str, str],
) -> None:
    settings, urls = two_routers
    await clean_routing(sessions)
    async with httpx.AsyncClient(headers=api_headers) as client:
        for name in ("anna", "jonas", "mia"):
            response = await client.post(
                f"{urls[0]}/v1/reps",
                json={"name": name.title(), "email": f"{name}@sales.example", "role": "ae"},
            )
            assert response.status_code == 201, response.text
        reps = {r["id"]: r["name"] for r in (await client.get(f"{urls[-1]}/v1/reps")).json()}
    emails = [f"fair{i}.{uuid.uuid4().hex[:6]}@kunde{i}.example" for i in range(LEADS)]
    producer = make_producer(settings.kafka_bootstrap, client_id="fairness-test")
    await producer.start()
    picks: Counter[str] = Counter()
    try:
        async with TopicReader(settings.kafka_bootstrap, settings.topics.routed) as reader:
            for email in emails:
                event = became_sql(email)
                await publish(producer, settings.topics.stage_changed, email, wrap(event, "/test"))
            wanted = {record_key(email).encode() for email in emails}
            deadline = time.monotonic() + 60
            while wanted and time.monotonic() < deadline:
                for records in (await reader.consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        if record.key in wanted:
                            wanted.discard(record.key)
                            routed = unwrap(from_record(record.headers, record.value), LeadRouted)
                            assert routed.kind == "assigned" and routed.rep is not None
                            picks[reps[routed.rep.rep_id]] += 1
            assert not wanted, f"{len(wanted)} leads were not routed within 60 s"
    finally:
        await producer.stop()
    assert picks == {"Anna": 10, "Jonas": 10, "Mia": 10}

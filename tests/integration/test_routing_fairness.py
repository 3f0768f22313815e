"""Two routing processes in one consumer group share one fair rotation: the distribution is
the one a single instance gives, because the rotation and capacity live in PostgreSQL under
row locks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.localstack.processes import free_port
from leadpipe.localstack.repo import repo_root
from leadpipe.shared.envelope import from_record, unwrap, wrap
from leadpipe.shared.events import LeadRouted
from leadpipe.shared.kafka import make_producer, publish
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader
from tests.integration.routing_helpers import became_sql, clean_routing

pytestmark = pytest.mark.integration
LEADS = 30


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"routing exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"routing not ready:\n{log.read_text()[-3000:]}")


@pytest.fixture
def two_routers(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    # Fresh topics: only this test's leads reach these two instances.
    fresh = settings.model_copy(
        update={"topic_prefix": f"{settings.topic_prefix}fair{uuid.uuid4().hex[:6]}."}
    )
    env = {
        **os.environ,
        "LEADPIPE_KAFKA_BOOTSTRAP": fresh.kafka_bootstrap,
        "LEADPIPE_DATABASE_URL": fresh.database_url,
        "LEADPIPE_TOPIC_PREFIX": fresh.topic_prefix,
    }
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for index in range(2):
            port = free_port()
            log = tmp_path / f"routing-{index}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "leadpipe.routing.main"],
                    cwd=repo_root(),
                    env={**env, "LEADPIPE_ROUTING_PORT": str(port)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_ready(urls[-1], process, log)
        yield fresh, urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


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
            wanted = {email.encode() for email in emails}
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

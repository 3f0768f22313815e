"""The three services as processes: a form post ends as a routed lead on ``lead.routed.v1``."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from leadpipe.cli.demo import DEMO_REPS, print_result, run_demo
from leadpipe.cli.tokens import add_token
from leadpipe.shared.auth import Scope, issue_token
from leadpipe.shared.envelope import from_record, unwrap
from leadpipe.shared.events import LeadRouted
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.integration.kafka_helpers import TopicReader, keyed
from tests.service_processes import service_processes

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class RunningPipeline:
    settings: Settings
    logs: dict[str, Path]
    headers: dict[str, str]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.settings, f'{service}_port')}"


@pytest.fixture(scope="module")
def pipeline(
    settings: Settings, api_headers: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPipeline]:
    services = service_processes(settings, tmp_path_factory.mktemp("service-logs"))
    configured = settings.model_copy(
        update={f"{name}_port": service.port for name, service in services.items()}
    )
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_ready()
        logs = {name: service.log_file for name, service in services.items()}
        yield RunningPipeline(configured, logs, api_headers)
    finally:
        for service in services.values():
            service.stop()


async def _ensure_reps(pipeline: RunningPipeline) -> None:
    async with httpx.AsyncClient(headers=pipeline.headers) as client:
        existing = (await client.get(f"{pipeline.url('routing')}/v1/reps")).json()
        if not existing:
            for rep in DEMO_REPS:
                response = await client.post(f"{pipeline.url('routing')}/v1/reps", json=rep)
                assert response.status_code == 201, response.text


async def test_form_post_ends_as_a_routed_lead(pipeline: RunningPipeline) -> None:
    await _ensure_reps(pipeline)
    email = f"e2e.{uuid.uuid4().hex[:8]}@kunde.example"
    settings = pipeline.settings
    async with TopicReader(settings.kafka_bootstrap, settings.topics.routed) as reader:
        async with httpx.AsyncClient(headers=pipeline.headers) as client:
            response = await client.post(
                f"{pipeline.url('ingest')}/v1/forms/demo-request",
                json={
                    "email": email,
                    "title": "Head of IT",
                    "budget": "yes",
                    "company": "Kunde AG",
                },
            )
        assert response.status_code == 202, response.text
        seen = await reader.wait_for(keyed(record_key(email)), timeout_s=30)
    record = seen[-1]
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"io.leadpipe.lead.assigned.v1"
    assert headers["ce_source"] == b"/leadpipe/routing"
    assert {"ce_id", "ce_time", "traceparent", "content-type"} <= set(headers)
    routed = unwrap(from_record(record.headers, record.value), LeadRouted)
    assert routed.kind == "assigned"
    assert routed.rep is not None and routed.rep.role == "ae"
    assert routed.stage == "sql"


async def test_a_retried_form_post_with_its_idempotency_key_is_one_event(
    pipeline: RunningPipeline,
) -> None:
    email = f"retry.{uuid.uuid4().hex[:8]}@kunde.example"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with httpx.AsyncClient() as client:
        url = f"{pipeline.url('ingest')}/v1/forms/newsletter"
        first = await client.post(url, json={"email": email}, headers=key)
        again = await client.post(url, json={"email": email}, headers=key)
        other = await client.post(url, json={"email": email})
    assert first.status_code == again.status_code == 202
    assert first.json()["event_id"] == again.json()["event_id"] != other.json()["event_id"]


async def test_invalid_form_post_names_the_field(pipeline: RunningPipeline) -> None:
    async with httpx.AsyncClient(headers=pipeline.headers) as client:
        response = await client.post(
            f"{pipeline.url('ingest')}/v1/forms/demo-request", json={"first_name": "Max"}
        )
    assert response.status_code == 422
    assert response.json()["error"] == {"field": "email", "reason": "is required"}


async def test_demo_command_shows_the_lead_scored_and_routed(pipeline: RunningPipeline) -> None:
    console = Console(record=True, width=160)
    result = await run_demo(pipeline.settings, console, pipeline.headers, timeout_s=30)
    assert result.lead["stage"] == "sql"
    assert result.routed.rep is not None
    assert {r["reason"] for r in result.lead["reasons"]} >= {
        "+25 BANT budget confirmed on the form"
    }
    assert [a["kind"] for a in result.assignments] == ["assigned"]
    print_result(result, console)
    assert (
        "is now SQL: fit 85, engagement 30, qualification 50, grade A, hot" in console.export_text()
    )


async def test_round_robin_spreads_leads_over_the_aes(pipeline: RunningPipeline) -> None:
    await _ensure_reps(pipeline)
    settings = pipeline.settings
    emails = [f"rr.{uuid.uuid4().hex[:8]}@kunde.example" for _ in range(4)]
    picks: list[str] = []
    async with (
        TopicReader(settings.kafka_bootstrap, settings.topics.routed) as reader,
        httpx.AsyncClient(headers=pipeline.headers) as client,
    ):
        for email in emails:
            response = await client.post(
                f"{pipeline.url('ingest')}/v1/forms/demo",
                json={"email": email, "title": "CTO", "budget": "yes"},
            )
            assert response.status_code == 202
            seen = await reader.wait_for(keyed(record_key(email)), timeout_s=30)
            routed = unwrap(from_record(seen[-1].headers, seen[-1].value), LeadRouted)
            assert routed.rep is not None
            picks.append(routed.rep.rep_id)
    # Two AEs, four leads in a row: each gets two, alternating.
    assert len(set(picks)) == 2
    assert picks[0] == picks[2] and picks[1] == picks[3]


async def test_lead_show_prints_the_scored_lead_and_its_open_questions(
    pipeline: RunningPipeline,
) -> None:
    await _ensure_reps(pipeline)
    email = f"show.{uuid.uuid4().hex[:8]}@kunde.example"
    settings = pipeline.settings
    async with TopicReader(settings.kafka_bootstrap, settings.topics.routed) as reader:
        async with httpx.AsyncClient(headers=pipeline.headers) as client:
            response = await client.post(
                f"{pipeline.url('ingest')}/v1/forms/demo-request",
                json={"email": email, "title": "Leiter IT", "budget": "ja", "country": "AT"},
            )
        assert response.status_code == 202, response.text
        await reader.wait_for(keyed(record_key(email)), timeout_s=30)
    env = dict(os.environ)
    env.update(
        {
            "LEADPIPE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "LEADPIPE_DATABASE_URL": settings.database_url,
            "LEADPIPE_SCORING_PORT": str(settings.scoring_port),
            "LEADPIPE_ROUTING_PORT": str(settings.routing_port),
            "LEADPIPE_API_TOKEN": pipeline.headers["Authorization"].removeprefix("Bearer "),
            "COLUMNS": "200",
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadpipe.cli.main",
        "lead",
        "show",
        email,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    shown = output.decode()
    assert process.returncode == 0, shown
    assert "stage sql · fit 35" in shown
    assert "+25 BANT budget confirmed on the form" in shown
    assert "need: Which problem should the software solve" in shown
    assert "Assignment: assigned →" in shown


async def test_the_apis_need_a_token_with_the_right_scope(
    pipeline: RunningPipeline, settings: Settings
) -> None:
    reader = issue_token(f"e2e-reader-{uuid.uuid4().hex[:6]}", Scope.READ)
    await add_token(settings.database_url, reader)
    read = {"Authorization": f"Bearer {reader.token}"}
    async with httpx.AsyncClient() as client:
        anonymous = await client.get(f"{pipeline.url('routing')}/v1/reps")
        assert anonymous.status_code == 401
        assert anonymous.json()["errors"][0]["field"] == "Authorization"
        assert (
            await client.get(f"{pipeline.url('routing')}/v1/reps", headers=read)
        ).status_code == 200
        refused = await client.post(
            f"{pipeline.url('routing')}/v1/reps",
            headers=read,
            json={"name": "Not Allowed", "email": "no@leadpipe.example", "role": "ae"},
        )
        assert refused.status_code == 403
        lead = await client.get(
            f"{pipeline.url('scoring')}/v1/leads", params={"email": "nobody@example.com"}
        )
        assert lead.status_code == 401
        # The public surfaces stay open: health, and forms on customers' websites.
        assert (await client.get(f"{pipeline.url('scoring')}/healthz")).status_code == 200


async def test_erase_removes_the_person_from_both_services(
    pipeline: RunningPipeline, settings: Settings
) -> None:
    await _ensure_reps(pipeline)
    email = f"erase.{uuid.uuid4().hex[:8]}@kunde.example"
    topics = pipeline.settings.topics
    async with (
        TopicReader(settings.kafka_bootstrap, topics.routed) as reader,
        httpx.AsyncClient(headers=pipeline.headers) as client,
    ):
        posted = await client.post(
            f"{pipeline.url('ingest')}/v1/forms/demo-request",
            json={"email": email, "last_name": "Löschmich", "title": "CEO", "budget": "yes"},
        )
        assert posted.status_code == 202
        seen = await reader.wait_for(keyed(record_key(email)), timeout_s=30)
        lead_id = unwrap(from_record(seen[-1].headers, seen[-1].value), LeadRouted).lead_id
    env = dict(os.environ)
    env.update(
        {
            "LEADPIPE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "LEADPIPE_DATABASE_URL": settings.database_url,
            "LEADPIPE_SCORING_PORT": str(pipeline.settings.scoring_port),
            "LEADPIPE_API_TOKEN": pipeline.headers["Authorization"].removeprefix("Bearer "),
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadpipe.cli.main",
        "erase",
        email,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert "leads anonymised: 1" in output
    async with httpx.AsyncClient(headers=pipeline.headers) as client:
        gone = await client.get(f"{pipeline.url('scoring')}/v1/leads", params={"email": email})
        assert gone.status_code == 404
        # Routing erases its part when it reads the lead.erased event.
        for _ in range(100):
            history = (
                await client.get(f"{pipeline.url('routing')}/v1/leads/{lead_id}/assignments")
            ).json()
            if history and all(a.get("status") == "closed" for a in history):
                break
            await asyncio.sleep(0.2)
    assert history
    assert email not in str(history)
    assert all(a["status"] == "closed" for a in history)


def test_no_personal_data_in_any_service_log(pipeline: RunningPipeline) -> None:
    """Runs after the module's flows: the emails, names and companies they used never reach
    a log line."""
    needles = ("@kunde.example", "mustermann", "löschmich", "kunde ag", "geschäftsführer")
    for service, path in pipeline.logs.items():
        text = path.read_text(errors="replace").lower()
        assert text, f"{service} wrote no log at all"
        found = [needle for needle in needles if needle in text]
        assert found == [], f"{service}'s log holds personal data: {found}"

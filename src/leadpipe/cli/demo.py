"""``leadpipe demo``: one lead posted, scored and routed, with the explanation."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from leadpipe.shared.envelope import from_record, unwrap
from leadpipe.shared.events import LeadRouted
from leadpipe.shared.kafka import start_tail_reader
from leadpipe.shared.privacy import Pseudonyms
from leadpipe.shared.settings import Settings

DEMO_REPS = [
    {"name": "Anna Schmidt", "email": "anna.schmidt@leadpipe.example", "role": "ae"},
    {"name": "Jonas Weber", "email": "jonas.weber@leadpipe.example", "role": "ae"},
    {"name": "Lena Fischer", "email": "lena.fischer@leadpipe.example", "role": "bdr"},
]
DEMO_FORM = "demo-request"


def demo_fields(tag: str) -> dict[str, Any]:
    """A fictional decision maker asking for a demo; a fresh address each run keeps runs apart."""
    return {
        "email": f"max.mustermann+{tag}@mustermann-maschinenbau.example",
        "first_name": "Max",
        "last_name": "Mustermann",
        "company": "Max Mustermann GmbH",
        "title": "Geschäftsführer",
        "industry": "Maschinenbau",
        "country": "DE",
        "company_size": 120,
        "budget": "yes",
        "message": "Wir möchten Leads schneller an den Vertrieb geben.",
        "consent": {"purpose": "sales_contact", "text_version": "2026-01"},
    }


@dataclass(frozen=True)
class DemoResult:
    email: str
    routed: LeadRouted
    millis: float
    lead: dict[str, Any]
    assignments: list[dict[str, Any]]


async def seed_reps(client: httpx.AsyncClient, routing_url: str) -> int:
    reps = (await client.get(f"{routing_url}/v1/reps")).raise_for_status().json()
    if reps:
        return 0
    for rep in DEMO_REPS:
        (await client.post(f"{routing_url}/v1/reps", json=rep)).raise_for_status()
    return len(DEMO_REPS)


async def run_demo(
    settings: Settings,
    console: Console,
    headers: dict[str, str],
    *,
    timeout_s: float = 30.0,
    pseudonyms: Pseudonyms | None = None,
) -> DemoResult:
    """``headers`` carry the API token for scoring's and routing's APIs; ``pseudonyms`` turn
    the lead key into the record key the services use (default: from ``settings``)."""
    pseudonyms = pseudonyms or Pseudonyms.from_settings(settings)
    base = f"http://{settings.host}"
    ingest, scoring, routing = (
        f"{base}:{settings.ingest_port}",
        f"{base}:{settings.scoring_port}",
        f"{base}:{settings.routing_port}",
    )
    async with httpx.AsyncClient(timeout=10.0, headers=headers) as client:
        for name, url in (("ingest", ingest), ("scoring", scoring), ("routing", routing)):
            try:
                (await client.get(f"{url}/readyz")).raise_for_status()
            except httpx.HTTPError as exc:
                raise RuntimeError(
                    f"{name} is not ready at {url} ({exc}); run `leadpipe up`"
                ) from exc
        seeded = await seed_reps(client, routing)
        if seeded:
            console.print(f"Seeded {seeded} demo reps (two account executives, one BDR).")

        consumer = await start_tail_reader(settings.kafka_bootstrap, settings.topics.routed)
        try:
            fields = demo_fields(secrets.token_hex(3))
            console.print(
                f"Posting a demo request for {fields['first_name']} {fields['last_name']}, "
                f"{fields['title']} at {fields['company']} ({fields['industry']})…"
            )
            started = time.perf_counter()
            response = await client.post(f"{ingest}/v1/forms/{DEMO_FORM}", json=fields)
            response.raise_for_status()
            console.print(
                f"  ingest: {response.status_code} accepted, event {response.json()['event_id']}"
            )
            lead_key = str(fields["email"])
            routed = await _wait_for_routed(consumer, pseudonyms.of(lead_key), timeout_s)
            millis = (time.perf_counter() - started) * 1000
        finally:
            await consumer.stop()

        lead = (await client.get(f"{scoring}/v1/leads", params={"email": lead_key})).json()
        assignments = (await client.get(f"{routing}/v1/leads/{lead['id']}/assignments")).json()
    return DemoResult(str(fields["email"]), routed, millis, lead, assignments)


async def _wait_for_routed(
    consumer: AIOKafkaConsumer, record_key: str, timeout_s: float
) -> LeadRouted:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=100)
        for records in batches.values():
            for record in records:
                if record.key == record_key.encode():
                    return unwrap(from_record(record.headers, record.value), LeadRouted)
    raise TimeoutError(
        f"no lead.routed.v1 event for the demo lead within {timeout_s:.0f} s; scoring or "
        "routing may be working through a backlog (see `leadpipe status` and the services' logs)"
    )


def print_result(result: DemoResult, console: Console) -> None:
    lead = result.lead
    console.print(
        f"\n[bold]{lead['first_name']} {lead['last_name']}[/bold] ({result.email}) is now "
        f"[bold green]{lead['stage'].upper()}[/bold green]: fit {lead['fit']}, "
        f"engagement {lead['engagement']}, qualification {lead['qualification']}, "
        f"grade {lead['grade']}, {lead['temperature']} (rules {lead['rules_version']})"
    )
    reasons = Table(title="Why these scores", show_lines=False)
    reasons.add_column("score")
    reasons.add_column("change", justify="right")
    reasons.add_column("reason")
    for reason in lead["reasons"]:
        reasons.add_row(reason["component"], f"{reason['delta']:+d}", reason["reason"])
    console.print(reasons)
    stages = Table(title="Lifecycle")
    stages.add_column("from")
    stages.add_column("to")
    stages.add_column("reason")
    for move in lead["history"]:
        stages.add_row(move["from_stage"] or "(new)", move["to_stage"], move["reason"])
    console.print(stages)
    routed = result.routed
    if routed.rep is not None:
        console.print(
            f"Routed to [bold]{routed.rep.name}[/bold] ({routed.rep.role.upper()}): {routed.reason}; "
            f"rule '{routed.rule}'."
        )
    else:
        console.print(f"Queued: {routed.reason}")
    for assignment in result.assignments:
        trace = assignment["trace"]
        console.print(
            f"  decision trace: strategy {trace['strategy']}, candidates {len(trace['candidates'])}, "
            f"previous pick {trace['previous'] or 'none'}"
        )
    console.print(
        f"[bold]{result.millis:.0f} ms[/bold] from form post to the lead.routed.v1 event "
        f"(CloudEvents type {routed.ce_type})."
    )

"""Chaos: a load of leads through the real pipeline while services are SIGKILLed and Kafka and
PostgreSQL restart. Afterwards every acknowledged event was applied exactly once, every
sales-qualified lead was routed exactly once, and nothing is left stuck."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from leadpipe.cli.tokens import add_token
from leadpipe.localstack.repo import repo_root
from leadpipe.localstack.stack import LocalStack
from leadpipe.scoring.domain.engagement import engagement_recorded
from leadpipe.scoring.domain.fit import fit_parts, fit_score
from leadpipe.scoring.domain.qualification import qualification_score
from leadpipe.scoring.domain.whatif import replay
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared import migrate
from leadpipe.shared.auth import Scope, issue_token
from leadpipe.shared.db import make_engine
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.kafka import records_to_end
from leadpipe.shared.records import Record
from leadpipe.shared.settings import Settings
from tests.infrastructure import local_stack
from tests.sealed_events import opened
from tests.service_processes import ServiceProcess, service_processes

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

LEADS = 2000
EVENTS_PER_LEAD = 5
CONCURRENCY = 48
SEED = 20261125
REPS = [
    {"name": "Chaos AE One", "email": "ae1@chaos.example", "role": "ae"},
    {"name": "Chaos AE Two", "email": "ae2@chaos.example", "role": "ae"},
    {"name": "Chaos AE Three", "email": "ae3@chaos.example", "role": "ae"},
]
# (share of the load posted, fault); five kills, one broker restart, one database restart.
SCHEDULE = [
    (0.10, "kill scoring"),
    (0.20, "kill routing"),
    (0.35, "restart kafka"),
    (0.50, "kill scoring"),
    (0.65, "restart postgres"),
    (0.75, "kill routing"),
    (0.85, "kill scoring"),
]


@dataclass(frozen=True)
class Post:
    email: str
    form_id: str
    fields: dict[str, object]


@dataclass
class Load:
    acknowledged: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    retried: int = 0
    posted: int = 0


def lead_posts(rng: random.Random, run: str) -> list[list[Post]]:
    """Each lead's form posts in order. About a third end sales-qualified."""
    leads = []
    for n in range(LEADS):
        email = f"chaos.{run}.{n}@kunde{n % 97}.example"
        posts = [
            Post(email, form, {"email": email})
            for form in rng.sample(
                ["newsletter", "whitepaper", "webinar", "event", "case-study"], EVENTS_PER_LEAD - 1
            )
        ]
        final = rng.random()
        if final < 0.35:
            posts.append(
                Post(
                    email,
                    "demo-request",
                    {"email": email, "title": "Geschäftsführer", "budget": "yes"},
                )
            )
        elif final < 0.6:
            posts.append(Post(email, "contact", {"email": email, "title": "Engineer"}))
        else:
            posts.append(Post(email, "newsletter", {"email": email}))
        leads.append(posts)
    return leads


async def post_with_retries(client: httpx.AsyncClient, url: str, post: Post, load: Load) -> str:
    """Posts until ingest acknowledges, as a client library would; returns the event id."""
    key = str(uuid.uuid4())
    for attempt in range(600):
        try:
            response = await client.post(
                f"{url}/v1/forms/{post.form_id}", json=post.fields, headers={"Idempotency-Key": key}
            )
            if response.status_code == 202:
                return str(response.json()["event_id"])
            assert response.status_code == 503, response.text
        except httpx.TransportError:
            pass
        load.retried += 1
        await asyncio.sleep(min(2.0, 0.1 * (attempt + 1)))
    raise AssertionError(f"ingest never acknowledged a post for {post.email}")


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack([]) as stack:
        migrate.upgrade(repo_root(), stack.database_url)
        yield stack


async def test_no_event_lost_or_applied_twice_under_faults(
    chaos_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = issue_token("chaos", Scope.ADMIN)
    await add_token(chaos_stack.database_url, token)
    run = uuid.uuid4().hex[:6]
    settings = Settings(
        kafka_bootstrap=chaos_stack.kafka_bootstrap,
        database_url=chaos_stack.database_url,
        topic_prefix=f"chaos-{run}.",
    )
    services = service_processes(settings, tmp_path)
    for service in services.values():
        service.start()
    for service in services.values():
        service.wait_ready()
    faults: list[tuple[str, float]] = []
    load = Load()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            for rep in REPS:
                created = await client.post(
                    f"{services['routing'].url}/v1/reps",
                    json=rep,
                    headers={"Authorization": f"Bearer {token.token}"},
                )
                assert created.status_code == 201, created.text
            leads = lead_posts(random.Random(SEED), run)
            total = LEADS * EVENTS_PER_LEAD
            limit = asyncio.Semaphore(CONCURRENCY)

            async def one_lead(posts: list[Post]) -> None:
                async with limit:
                    for post in posts:
                        event_id = await post_with_retries(
                            client, services["ingest"].url, post, load
                        )
                        load.acknowledged[post.email].append(event_id)
                        load.posted += 1

            started = time.monotonic()
            posting = asyncio.gather(*(one_lead(posts) for posts in leads))
            injecting = inject_faults(SCHEDULE, load, total, services, chaos_stack, faults)
            await asyncio.gather(posting, injecting)
            load_seconds = time.monotonic() - started

        engine = make_engine(settings.database_url, pool_size=2)
        try:
            checks = await wait_until_settled(engine, load, timeout_s=300)
            routed = await routed_events(settings)
            checks.update(check_routing(routed, checks["sql leads"]))
            checks["leads differing from the reference"] = await compare_with_reference(
                engine, settings, load
            )
            checks["services not ready afterwards"] = 0 if await all_ready(services) else 1
        finally:
            await engine.dispose()
    finally:
        for service in services.values():
            service.stop()

    with capsys.disabled():
        print_table(faults, load, load_seconds, checks)
    assert checks["acknowledged events applied"] == LEADS * EVENTS_PER_LEAD
    assert checks["score reasons recorded twice"] == 0
    assert checks["sql leads routed exactly once"] == checks["sql leads"]
    assert checks["routed event ids seen twice"] == 0
    assert checks["leads routed more than once"] == 0
    assert checks["unpublished outbox rows"] == 0
    assert checks["leads differing from the reference"] == 0
    assert checks["services not ready afterwards"] == 0
    assert any("readyz 503" in fault for fault, _ in faults)
    assert len([f for f in faults if f[0].startswith("kill")]) >= 5


async def inject_faults(
    schedule: list[tuple[float, str]],
    load: Load,
    total: int,
    services: dict[str, ServiceProcess],
    stack: LocalStack,
    faults: list[tuple[str, float]],
) -> None:
    for share, fault in schedule:
        while load.posted < share * total:  # noqa: ASYNC110 (a counter, not an event)
            await asyncio.sleep(0.05)
        started = time.monotonic()
        if fault.startswith("kill "):
            service = services[fault.removeprefix("kill ")]
            service.kill()
            service.start()
        elif fault == "restart kafka":
            kafka_only = dataclasses.replace(stack, with_postgres=False)
            # Watch a service that is up (it may still be restarting from the last kill).
            await all_ready({"scoring": services["scoring"]}, timeout_s=60)
            await asyncio.to_thread(kafka_only.down, lambda _: None)
            noticed = await readiness_fails(services["scoring"])
            await asyncio.to_thread(kafka_only.up, lambda _: None)
            fault = f"{fault} (readyz {'503' if noticed else 'missed it'})"
        elif fault == "restart postgres":
            postgres_only = dataclasses.replace(stack, with_kafka=False)
            await asyncio.to_thread(postgres_only.down, lambda _: None)
            await asyncio.to_thread(postgres_only.up, lambda _: None)
        faults.append((fault, time.monotonic() - started))


async def readiness_fails(service: ServiceProcess, timeout_s: float = 20.0) -> bool:
    """Whether the service's /readyz turns 503 while a dependency is down."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{service.url}/readyz")).status_code == 503:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    return False


async def all_ready(services: dict[str, ServiceProcess], timeout_s: float = 120.0) -> bool:
    """Whether every service reports ready again (recovered from the faults)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                codes = [
                    (await client.get(f"{s.url}/readyz")).status_code for s in services.values()
                ]
                if codes == [200] * len(codes):
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    return False


async def wait_until_settled(engine: AsyncEngine, load: Load, timeout_s: float) -> dict[str, int]:
    """Polls the services' databases until every acknowledged event was applied and every
    outbox is empty, then counts what the checks need."""
    acked = [event_id for ids in load.acknowledged.values() for event_id in ids]
    emails = list(load.acknowledged)
    deadline = time.monotonic() + timeout_s
    while True:
        async with engine.connect() as db:
            applied = await db.scalar(
                text("SELECT count(*) FROM scoring.processed_events WHERE event_id = ANY(:ids)"),
                {"ids": acked},
            )
            unpublished = await db.scalar(
                text(
                    "SELECT (SELECT count(*) FROM scoring.outbox WHERE published_at IS NULL)"
                    " + (SELECT count(*) FROM routing.outbox WHERE published_at IS NULL)"
                )
            )
            sql_leads = await db.scalar(
                text(
                    "SELECT count(*) FROM scoring.leads WHERE email = ANY(:emails) AND stage = 'sql'"
                ),
                {"emails": emails},
            )
            routed = await db.scalar(
                text(
                    "SELECT count(DISTINCT a.lead_id) FROM routing.assignments a"
                    " JOIN scoring.leads l ON l.id = a.lead_id"
                    " WHERE l.email = ANY(:emails) AND a.kind = 'assigned'"
                ),
                {"emails": emails},
            )
            twice = await db.scalar(
                text(
                    "SELECT count(*) FROM (SELECT event_id, component, reason FROM"
                    " scoring.score_changes WHERE event_id = ANY(:ids)"
                    " GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
                ),
                {"ids": acked},
            )
        settled = applied == len(acked) and unpublished == 0 and routed == sql_leads
        if settled or time.monotonic() > deadline:
            return {
                "acknowledged events": len(acked),
                "acknowledged events applied": int(applied or 0),
                "score reasons recorded twice": int(twice or 0),
                "sql leads": int(sql_leads or 0),
                "sql leads routed exactly once": int(routed or 0),
                "unpublished outbox rows": int(unpublished or 0),
            }
        await asyncio.sleep(1.0)


async def whole_topic(settings: Settings, topic: str) -> list[Record]:
    """Every record on ``topic``, in offset order per partition."""
    return [record async for record in records_to_end(settings.kafka_bootstrap, topic)]


async def routed_events(settings: Settings) -> list[tuple[bytes | None, str]]:
    """(lead key, event id) of every record on lead.routed.v1."""
    records = await whole_topic(settings, settings.topics.routed)
    return [(r.key, dict(r.headers)["ce_id"].decode()) for r in records]


async def compare_with_reference(engine: AsyncEngine, settings: Settings, load: Load) -> int:
    """How many leads' stored scores and stage differ from the pure domain's replay of the
    acknowledged events, read back from lead.events.v1 as ingest normalised them."""
    acknowledged = {event_id for ids in load.acknowledged.values() for event_id in ids}
    history: dict[str, list[InboundEvent]] = defaultdict(list)
    seen: set[str] = set()
    records = await whole_topic(settings, settings.topics.lead_events)
    for event in await opened(records, settings.database_url):
        assert event is not None, "no person was erased: every event's key must exist"
        if event.event_id in acknowledged and event.event_id not in seen:
            seen.add(event.event_id)
            history[event.lead_key].append(event)
    rules = default_rules()
    expected = {}
    for events in history.values():
        state = replay(events, rules).state
        email = events[0].identity.email
        expected[email] = (
            str(state.stage),
            fit_score(fit_parts(state.profile, rules)),
            engagement_recorded(state.engagement),
            qualification_score(state.answers, rules),
        )
    async with engine.connect() as db:
        rows = (
            await db.execute(
                text(
                    "SELECT email, stage, fit, engagement, qualification FROM scoring.leads"
                    " WHERE email = ANY(:emails)"
                ),
                {"emails": list(expected)},
            )
        ).all()
    stored = {row.email: (row.stage, row.fit, row.engagement, row.qualification) for row in rows}
    return sum(1 for email, scores in expected.items() if stored.get(email) != scores)


def check_routing(routed: list[tuple[bytes | None, str]], sql_leads: int) -> dict[str, int]:
    ids = Counter(event_id for _, event_id in routed)
    per_lead = Counter(key for key, _ in routed)
    return {
        "routed events on the topic": len(routed),
        "routed event ids seen twice": sum(1 for n in ids.values() if n > 1),
        "leads routed more than once": sum(1 for n in per_lead.values() if n > 1),
    }


def print_table(
    faults: list[tuple[str, float]], load: Load, seconds: float, checks: dict[str, int]
) -> None:
    print("\nchaos: faults injected")
    for fault, took in faults:
        print(f"  {fault:<20} {took:6.1f} s")
    print(
        f"chaos: {load.posted} events for {LEADS} leads posted in {seconds:.0f} s, "
        f"{load.retried} client retries"
    )
    for name, count in checks.items():
        print(f"  {name:<34} {count}")

"""The scoring and routing consumers, each run in this process through its service's own
composition root (``create_app(settings)`` and its lifespan: engine, consume loop, outbox relay)
without the HTTP server. A backlog is produced while the consumer's partitions are paused;
the clock runs from resuming them until the consume loop reports every event applied and its
database transaction committed."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import orjson
from fastapi import FastAPI

from bench import same_rows
from bench.data import FormPost, TrackingCall, day_of_traffic, event_ids, mixed_posts
from bench.plan import Plan
from bench.processes import cpu_seconds, run_queue_seconds
from bench.report import Figure
from bench.stack import BenchStack
from bench.stats import median
from leadpipe.ingest.domain.forms import form_event
from leadpipe.ingest.domain.tracking import call_event
from leadpipe.routing.main import create_app as create_routing_app
from leadpipe.scoring.main import create_app as create_scoring_app
from leadpipe.shared.envelope import CloudEvent, wrap
from leadpipe.shared.events import InboundEvent, LeadSnapshot, Stage, StageChanged
from leadpipe.shared.kafka import make_producer
from leadpipe.shared.runtime import ConsumerRuntime

BATCH = 500  # the consume loop's max_records: the baseline writes batches of the same size
WARM_UP = 50  # events drained before the measured runs
Keyed = list[tuple[str, CloudEvent]]
Inbound = list[InboundEvent]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[ConsumerRuntime]:
    """The service's lifespan, entered once its consumer owns its partitions."""
    async with app.router.lifespan_context(app):
        runtime: ConsumerRuntime = app.state.runtime
        deadline = time.monotonic() + 60
        while not runtime.consumer.assignment():
            if time.monotonic() > deadline:
                raise RuntimeError("the consumer got no partitions within 60 s")
            await asyncio.sleep(0.05)
        yield runtime


async def warm_up(runtime: ConsumerRuntime, bootstrap: str, topic: str, events: Keyed) -> None:
    """A first small backlog, not measured: connection pool, statement caches, the first fetch."""
    await drain_rate(runtime, bootstrap, topic, events)


@dataclass
class Drained:
    per_s: float
    cpu_share: float  # of one core, used by this process while draining
    run_queue_share: float  # of the wall time, spent runnable but waiting for a CPU


def limits(runs: Sequence[Drained]) -> str:
    cpu = median([run.cpu_share for run in runs])
    waited = median([run.run_queue_share for run in runs])
    # In microseconds: the changes worth measuring are small against the whole event.
    per_event_us = median([run.cpu_share / run.per_s * 1e6 for run in runs])
    return (
        f"the consumer process ran {cpu:.0%} of a core ({per_event_us:,.0f} µs CPU per event) "
        f"and waited {waited:.0%} for one"
    )


async def drain_rate(
    runtime: ConsumerRuntime, bootstrap: str, topic: str, events: Keyed
) -> Drained:
    """Events/s through the consume loop for a backlog of ``events``."""
    consumer = runtime.consumer
    partitions = list(consumer.assignment())
    consumer.pause(*partitions)
    await asyncio.sleep(0.3)  # a fetch under way when pausing returns nothing for them
    producer = make_producer(bootstrap, client_id="leadpipe-bench-loader")
    await producer.start()
    try:
        pending = [
            await producer.send(topic, value=event.data, key=key.encode(), headers=event.headers())
            for key, event in events
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    goal = runtime.health.processed + len(events)
    pid = os.getpid()
    cpu_before, waited_before = cpu_seconds(pid), run_queue_seconds(pid)
    start = time.monotonic()
    consumer.resume(*partitions)
    deadline = start + max(120.0, len(events) / 20)
    while runtime.health.processed < goal:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{topic}: {goal - runtime.health.processed} events not applied in time "
                f"(last error: {runtime.health.last_error})"
            )
        await asyncio.sleep(0.005)
    wall = time.monotonic() - start
    return Drained(
        per_s=len(events) / wall,
        cpu_share=(cpu_seconds(pid) - cpu_before) / wall,
        run_queue_share=(run_queue_seconds(pid) - waited_before) / wall,
    )


def inbound_events(traffic: Sequence[FormPost | TrackingCall], ids: Sequence[str]) -> Inbound:
    """Each post or call as ingest would publish it: forms through ``form_event``, Segment
    calls through ``call_event`` (with ``ids`` as their ``messageId``)."""
    now = datetime.now(UTC)
    events = []
    for item, event_id in zip(traffic, ids, strict=True):
        if isinstance(item, FormPost):
            event = form_event(
                item.form_id,
                item.fields,
                source=f"form:{item.form_id}",
                received_at=now,
                event_id=event_id,
            )
        else:
            event = call_event(
                {**item.call, "messageId": event_id},
                call_type=None,
                source="segment:bench",
                received_at=now,
            )
        events.append(event)
    return events


def keyed(events: Inbound) -> Keyed:
    return [(event.lead_key, wrap(event, f"/leadpipe/ingest/{event.source}")) for event in events]


def stage_changes(seed: int, stream: str, count: int) -> Keyed:
    now = datetime.now(UTC)
    ids = event_ids(seed, stream, 2 * count)
    events = []
    for i in range(count):
        email = f"{stream}.{i}@bench.example"
        changed = StageChanged(
            event_id=ids[2 * i],
            occurred_at=now,
            lead_id=ids[2 * i + 1],
            lead_key=email,
            from_stage=Stage.MQL,
            to_stage=Stage.SQL,
            reason="BANT budget and authority confirmed",
            cause_event_id=ids[2 * i],
            lead=LeadSnapshot(title="CTO", fit=30, engagement=40),
        )
        events.append((email, wrap(changed, "/leadpipe/scoring")))
    return events


async def timed_batches(dsn: str, statement: str, batches: Sequence[Sequence[object]]) -> float:
    """Seconds to run ``statement`` once per batch, each in its own committed transaction."""
    connection = await asyncpg.connect(dsn)
    try:
        start = time.monotonic()
        for arguments in batches:
            async with connection.transaction():
                await connection.execute(statement, *arguments)
        return time.monotonic() - start
    finally:
        await connection.close()


LEAD_UPSERT = """
INSERT INTO bench.leads (id, lead_key, email, first_name, last_name, company, title, country,
    industry, company_size, stage, fit, engagement, qualification, answers,
    hand_raiser, rules_version, source)
SELECT id, key, key, fn, ln, co, ti, cn, ind, size, 'lead', 0, 10, 0,
    jsonb_build_object('budget', bu), false, 'baseline', 'bench'
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::int[], $10::text[]) AS t(id, key, fn, ln, co, ti, cn, ind, size, bu)
ON CONFLICT (lead_key) DO UPDATE SET title = coalesce(EXCLUDED.title, bench.leads.title),
    company = coalesce(EXCLUDED.company, bench.leads.company), engagement = bench.leads.engagement + 10, updated_at = now()
"""

ASSIGNMENT_INSERT = """
INSERT INTO bench.assignments (id, lead_id, lead_key, rep_id, kind, stage, pool, rule, reason,
    trace, cause_event_id)
SELECT id, lead, key, 'rep-1', 'assigned', 'sql', 'ae', 'sql → ae pool', 'round-robin',
    trace::jsonb, cause
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS t(id, lead, key, trace, cause)
"""


async def create_baseline_tables(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE SCHEMA IF NOT EXISTS bench;"
            "CREATE TABLE IF NOT EXISTS bench.leads (LIKE scoring.leads INCLUDING ALL);"
            "CREATE TABLE IF NOT EXISTS bench.assignments (LIKE routing.assignments INCLUDING ALL);"
        )
    finally:
        await connection.close()


def lead_batches(events: Inbound) -> list[list[list[object]]]:
    batches: list[list[list[object]]] = []
    for start in range(0, len(events), BATCH):
        # One upsert may not touch a row twice: a batch keeps each lead's last event.
        latest = {event.lead_key: event for event in events[start : start + BATCH]}
        columns: list[list[object]] = [[] for _ in range(10)]
        for event in latest.values():
            traits = event.traits
            for column, value in zip(
                columns,
                (
                    event.event_id,
                    event.lead_key,
                    traits.get("first_name"),
                    traits.get("last_name"),
                    traits.get("company"),
                    traits.get("title"),
                    traits.get("country"),
                    traits.get("industry"),
                    traits.get("company_size"),
                    event.properties.get("budget"),
                ),
                strict=True,
            ):
                column.append(value)
        batches.append(columns)
    return batches


def assignment_batches(events: Keyed) -> list[list[list[object]]]:
    batches: list[list[list[object]]] = []
    for start in range(0, len(events), BATCH):
        columns: list[list[object]] = [[] for _ in range(5)]
        for key, event in events[start : start + BATCH]:
            trace = orjson.dumps({"rule": "sql → ae pool", "strategy": "round-robin"}).decode()
            for column, value in zip(
                columns, (str(uuid.uuid4()), event.id, key, trace, event.id), strict=True
            ):
                column.append(value)
        batches.append(columns)
    return batches


async def seed_reps(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO routing.reps (id, name, email, role, active) VALUES ($1, $2, $3, 'ae', true)"
            " ON CONFLICT DO NOTHING",
            [
                ("bench-ae-1", "Anna Schmidt", "anna.schmidt@bench.example"),
                ("bench-ae-2", "Jonas Weber", "jonas.weber@bench.example"),
            ],
        )
    finally:
        await connection.close()


@dataclass
class ScoringRuns:
    """One workload's scoring runs and, for each, the two baselines on the same events."""

    leadpipe: list[float] = field(default_factory=list)
    upsert: list[float] = field(default_factory=list)
    same_rows: list[float] = field(default_factory=list)
    drained: list[Drained] = field(default_factory=list)


async def scoring_runs(
    stack: BenchStack, runtime: ConsumerRuntime, topic: str, workloads: Sequence[Inbound]
) -> ScoringRuns:
    runs = ScoringRuns()
    for events in workloads:
        ids = [event.event_id for event in events]
        outbox_before = await same_rows.max_outbox_id(stack.dsn)
        runs.drained.append(await drain_rate(runtime, stack.kafka_bootstrap, topic, keyed(events)))
        runs.leadpipe.append(runs.drained[-1].per_s)
        seconds = await timed_batches(stack.dsn, LEAD_UPSERT, lead_batches(events))
        runs.upsert.append(len(events) / seconds)
        written = await same_rows.rows_written(stack.dsn, ids, outbox_before, BATCH)
        runs.same_rows.append(len(events) / await same_rows.timed_writes(stack.dsn, written))
    return runs


def scoring_figures(id: str, workload: str, target: str, runs: ScoringRuns) -> list[Figure]:
    limited_by = (
        "the service's one event loop (CPU): decoding, the rules fold, the outbox events and "
        "the relay publishing them; PostgreSQL writes the batch's rows meanwhile, on the other "
        "core; " + limits(runs.drained)
    )
    return [
        Figure(
            id=id,
            figure=f"scoring events/s, {workload} (consume loop + rules + DB commit + outbox)",
            unit="ev/s",
            leadpipe=median(runs.leadpipe),
            baseline=median(runs.upsert),
            baseline_name=f"raw asyncpg unnest upsert of the same leads, {BATCH}/transaction",
            target=target,
            limited_by=limited_by,
            samples={"leadpipe": runs.leadpipe, "baseline": runs.upsert},
        ),
        Figure(
            id=f"{id}.same_rows",
            figure=f"scoring events/s, {workload}, beside raw asyncpg writing the same rows",
            unit="ev/s",
            leadpipe=median(runs.leadpipe),
            baseline=median(runs.same_rows),
            baseline_name=(
                f"raw asyncpg, {BATCH} events/transaction: the rows the consumer wrote (lead "
                "upserts, processed ids, score and stage history, outbox, stored events) "
                "upserted and COPYed again; "
                f"{median(runs.same_rows) / median(runs.upsert):.2f}× the leads-only upsert, "
                "the most the consumer's ratio to it could be"
            ),
            target="—",
            limited_by="what leadpipe does besides writing: " + limited_by,
            samples={"leadpipe": runs.leadpipe, "baseline": runs.same_rows},
        ),
    ]


def backlogs(
    make: Callable[[int, str, int], Sequence[FormPost | TrackingCall]],
    seed: int,
    stream: str,
    count: int,
    plan: Plan,
) -> list[Inbound]:
    """One backlog of ``count`` generated events per repeat, each from its own stream."""
    return [
        inbound_events(make(seed, f"{stream}-{r}", count), event_ids(seed, f"{stream}-{r}", count))
        for r in range(plan.repeats)
    ]


async def scoring(stack: BenchStack, plan: Plan, seed: int) -> list[Figure]:
    """Two workloads: a day's traffic (mostly page views and tracked events, a tenth form
    posts), which the target applies to, and the heaviest case, form posts only, most of them
    demo requests that move the lead through two stages and emit two outbox events."""
    settings = stack.settings("scoring")
    topic = settings.topics.lead_events
    await create_baseline_tables(stack.dsn)
    await same_rows.create_tables(stack.dsn)
    count = plan.consumer_events
    async with running(create_scoring_app(settings)) as runtime:
        warm = mixed_posts(seed, "scoring-warm-up", WARM_UP)
        await warm_up(
            runtime,
            stack.kafka_bootstrap,
            topic,
            keyed(inbound_events(warm, event_ids(seed, "scoring-warm-up", WARM_UP))),
        )
        traffic = await scoring_runs(
            stack, runtime, topic, backlogs(day_of_traffic, seed, "scoring-traffic", count, plan)
        )
        forms = await scoring_runs(
            stack, runtime, topic, backlogs(mixed_posts, seed, "scoring-forms", count, plan)
        )
    return scoring_figures(
        "scoring.events",
        f"a day's traffic, backlog of {count} (2/3 page views, 1/5 tracked events, 1/10 forms)",
        "≥ 0.3",
        traffic,
    ) + scoring_figures(
        "scoring.events.forms",
        f"form posts only, backlog of {count} (heaviest case: 5/6 move stage)",
        "—",
        forms,
    )


async def routing(stack: BenchStack, plan: Plan, seed: int) -> list[Figure]:
    settings = stack.settings("routing")
    await create_baseline_tables(stack.dsn)
    await seed_reps(stack.dsn)
    samples: dict[str, list[float]] = {"leadpipe": [], "baseline": []}
    drained: list[Drained] = []
    async with running(create_routing_app(settings)) as runtime:
        await warm_up(
            runtime,
            stack.kafka_bootstrap,
            settings.topics.stage_changed,
            stage_changes(seed, "routing-warm-up", WARM_UP),
        )
        for repeat in range(plan.repeats):
            events = stage_changes(seed, f"routing-{repeat}", plan.consumer_events)
            drained.append(
                await drain_rate(
                    runtime, stack.kafka_bootstrap, settings.topics.stage_changed, events
                )
            )
            samples["leadpipe"].append(drained[-1].per_s)
            seconds = await timed_batches(stack.dsn, ASSIGNMENT_INSERT, assignment_batches(events))
            samples["baseline"].append(len(events) / seconds)
    return [
        Figure(
            id="routing.assignments",
            figure=f"routing assignments/s, backlog of {plan.consumer_events} "
            "(consume loop + rotation + DB commit + outbox)",
            unit="asg/s",
            leadpipe=median(samples["leadpipe"]),
            baseline=median(samples["baseline"]),
            baseline_name=f"raw asyncpg unnest insert, {BATCH}/transaction",
            target="—",
            limited_by="the service's one event loop (CPU): per assignment decoding the "
            "event, the decision with its trace and the routed event, all in memory; per batch "
            "about a dozen statements (processed ids; reps, rotations and the leads' open "
            "assignments locked; rules and capacity counts read; assignments and outbox rows "
            "COPYed, rotations upserted), and the relay publishing; " + limits(drained),
            samples=samples,
        )
    ]


ProgressLog = Callable[[str], None]


SEED_COLUMNS = (
    "id",
    "lead_key",
    "email",
    "company",
    "title",
    "stage",
    "fit",
    "engagement",
    "qualification",
    "hand_raiser",
    "rules_version",
    "source",
)


async def seed_leads(dsn: str, start: int, stop: int) -> None:
    """COPY leads ``seeded.<start..stop>`` into scoring.leads, as if they had posted before."""
    from bench.data import seeded_email

    records = (
        (
            f"seeded-{i}",
            seeded_email(i),
            seeded_email(i),
            "Bestand GmbH",
            "Einkäufer",
            "lead",
            0,
            10,
            0,
            False,
            "seeded",
            "seed",
        )
        for i in range(start, stop)
    )
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "leads", schema_name="scoring", columns=list(SEED_COLUMNS), records=records
        )
        await connection.execute("ANALYZE scoring.leads")
    finally:
        await connection.close()


async def scale(stack: BenchStack, plan: Plan, seed: int) -> list[Figure]:
    """Scoring's cost per event with 10k, 100k, 1M leads in the table (half the events hit
    one of them): flat means the per-event work does not grow with the table."""
    from bench.data import scale_posts

    settings = stack.settings("scale")
    cost: dict[int, list[float]] = {}
    seeded = 0
    async with running(create_scoring_app(settings)) as runtime:
        warm = mixed_posts(seed, "scale-warm-up", WARM_UP)
        await warm_up(
            runtime,
            stack.kafka_bootstrap,
            settings.topics.lead_events,
            keyed(inbound_events(warm, event_ids(seed, "scale-warm-up", WARM_UP))),
        )
        for size in plan.scale_sizes:
            await seed_leads(stack.dsn, seeded, size)
            seeded = size
            cost[size] = []
            for repeat in range(min(plan.repeats, 3)):
                stream = f"scale-{size}-{repeat}"
                posts = scale_posts(seed, stream, plan.scale_events, existing=size)
                drained = await drain_rate(
                    runtime,
                    stack.kafka_bootstrap,
                    settings.topics.lead_events,
                    keyed(inbound_events(posts, event_ids(seed, stream, len(posts)))),
                )
                cost[size].append(1e6 / drained.per_s)
    smallest = plan.scale_sizes[0]
    return [
        Figure(
            id=f"scale.scoring.{size}",
            figure=f"scale: scoring cost per event with {size:,} leads seeded",
            unit="µs/ev",
            leadpipe=median(cost[size]),
            baseline=median(cost[smallest]),
            baseline_name=f"same, {smallest:,} leads",
            target="flat (≈ 1.0)",
            limited_by="index lookups by lead_key grow with log(n); the event loop dominates",
            samples={"leadpipe": cost[size], "baseline": cost[smallest]},
        )
        for size in plan.scale_sizes
    ]

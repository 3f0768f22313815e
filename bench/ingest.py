"""Ingest over HTTP: its request rate beside a bare ASGI app and beside that app sending each
post to Kafka (the floor of any ingest on uvicorn + aiokafka), and its event rate under many
concurrent posts beside a raw aiokafka producer with the same acks=all + idempotence."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.data import mixed_posts
from bench.plan import Plan
from bench.processes import Process, ProcessGroup, run_loadgen
from bench.report import Figure
from bench.stack import BenchStack
from bench.stats import median
from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_store import SourceOptions, add_source
from leadpipe.ingest.domain.forms import form_event
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.envelope import CloudEvent, wrap
from leadpipe.shared.kafka import make_producer

POST_POOL = 5000  # distinct bodies the closed-loop clients cycle through


BATCH_SIZE = 100  # track calls per /v1/batch request (analytics-python sends up to 100)
BATCH_CONNECTIONS = 8


async def closed_loop(
    target: Process,
    plan: Plan,
    connections: int,
    seed: int,
    work_dir: Path,
    label: str,
    batch: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "mode": "closed",
        "host": "127.0.0.1",
        "port": target.port,
        "connections": connections,
        "warmup_s": plan.http_warmup_s,
        "duration_s": plan.http_duration_s,
        "posts": {"kind": "mixed", "seed": seed, "stream": "ingest", "count": POST_POOL},
    }
    if batch is not None:
        spec["batch"] = batch
    cpu_before, wall_before = target.cpu_seconds(), time.monotonic()
    waited_before = target.run_queue_seconds()
    result = await run_loadgen(spec, work_dir, label)
    wall = time.monotonic() - wall_before
    result["server_cpu_share"] = (target.cpu_seconds() - cpu_before) / wall
    result["server_run_queue_share"] = (target.run_queue_seconds() - waited_before) / wall
    return result


def wrapped_events(seed: int, count: int) -> list[tuple[str, CloudEvent]]:
    """The events ingest would publish for the same posts, built by ingest's own code."""
    now = datetime.now(UTC)
    events = []
    for post in mixed_posts(seed, "ingest", count):
        event = form_event(
            post.form_id, post.fields, source=f"form:{post.form_id}", received_at=now
        )
        events.append((event.lead_key, wrap(event, f"/leadpipe/ingest/{event.source}")))
    return events


async def raw_producer_rate(
    bootstrap: str, topic: str, events: list[tuple[str, CloudEvent]], in_flight: int, plan: Plan
) -> float:
    """Acknowledged events/s with ``in_flight`` sends outstanding, each awaited to its ack."""
    producer = make_producer(bootstrap, client_id="leadpipe-bench-raw")
    await producer.start()
    try:
        counter = 0
        start = time.monotonic()
        window_start = start + plan.http_warmup_s
        window_end = window_start + plan.http_duration_s
        acked = 0

        async def sender() -> None:
            nonlocal counter, acked
            while time.monotonic() < window_end:
                key, event = events[counter % len(events)]
                counter += 1
                pending = await producer.send(
                    topic, value=event.data, key=key.encode(), headers=event.headers()
                )
                await pending
                if window_start <= time.monotonic() < window_end:
                    acked += 1

        await asyncio.gather(*(sender() for _ in range(in_flight)))
        return acked / plan.http_duration_s
    finally:
        await producer.stop()


async def segment_write_key(database_url: str) -> str:
    """A Segment source in the run's database; ingest picks it up within its refresh time."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            source = await add_source(
                session, SecretBox(None), "bench-segment", SourceKind.SEGMENT, SourceOptions()
            )
    finally:
        await engine.dispose()
    return source.credential


async def run(
    stack: BenchStack, plan: Plan, seed: int, group: ProcessGroup, work_dir: Path
) -> list[Figure]:
    settings = stack.settings("ingest")
    write_key = await segment_write_key(stack.database_url)
    ingest = group.start_services(settings, ["ingest"])["ingest"]
    bare = group.start_bare_asgi()
    floor = group.start_bare_asgi(kafka=(stack.kafka_bootstrap, settings.topics.lead_events))
    single: dict[str, list[float]] = {"leadpipe": [], "baseline": []}
    floored: dict[str, list[float]] = {"leadpipe": single["leadpipe"], "baseline": []}
    many: dict[str, list[float]] = {"leadpipe": [], "baseline": []}
    batched: dict[str, list[float]] = {"leadpipe": [], "baseline": []}
    checks: list[dict[str, Any]] = []
    events = wrapped_events(seed, POST_POOL)
    for repeat in range(plan.repeats):
        # Alternating, so that a noisy neighbour on the machine hits both sides alike.
        for side, target in (("baseline", bare), ("leadpipe", ingest)):
            result = await closed_loop(
                target, plan, plan.single_connections, seed, work_dir, f"single-{side}-{repeat}"
            )
            single[side].append(result["per_s"])
            checks.append({"figure": "single", "side": side, **result})
        result = await closed_loop(
            floor, plan, plan.single_connections, seed, work_dir, f"single-floor-{repeat}"
        )
        floored["baseline"].append(result["per_s"])
        checks.append({"figure": "single", "side": "floor", **result})
        result = await closed_loop(
            ingest, plan, plan.concurrent_posts, seed, work_dir, f"many-{repeat}"
        )
        many["leadpipe"].append(result["per_s"])
        checks.append({"figure": "many", "side": "leadpipe", **result})
        many["baseline"].append(
            await raw_producer_rate(
                stack.kafka_bootstrap,
                settings.topics.lead_events,
                events,
                plan.concurrent_posts,
                plan,
            )
        )
        result = await closed_loop(
            ingest,
            plan,
            BATCH_CONNECTIONS,
            seed,
            work_dir,
            f"batch-{repeat}",
            batch={"write_key": write_key, "size": BATCH_SIZE},
        )
        batched["leadpipe"].append(result["events_per_s"])
        checks.append({"figure": "batch", "side": "leadpipe", **result})
        # The same raw-producer measurement as above: Kafka's rate for these events.
        batched["baseline"].append(many["baseline"][-1])
    peak_rss = ingest.peak_rss_kib()
    idle_rss = ingest.idle_rss_kib
    group.stop("bare-asgi")
    group.stop("bare-asgi-kafka")
    group.stop("ingest")

    def shares(figure: str, side: str) -> str:
        runs = [c for c in checks if c["figure"] == figure and c["side"] == side]
        server = median([c["server_cpu_share"] for c in runs])
        waited = median([c["server_run_queue_share"] for c in runs])
        generator = max(c["generator_cpu_share"] for c in runs)
        return (
            f"{side} server ran {server:.0%} of a core and waited {waited:.0%} for one, "
            f"generator ≤ {generator:.0%}"
        )

    single_limit = (
        "server CPU in one uvicorn process; per request, beside the HTTP work the bare app "
        "does too: email validation, the event and its envelope, the Kafka send and its ack "
        f"(profiled): {shares('single', 'leadpipe')}; {shares('single', 'baseline')}"
    )
    floor_share = median(floored["baseline"]) / median(single["baseline"])
    many_limit = f"ingest's one event loop, as above: {shares('many', 'leadpipe')}"
    batch_limit = (
        "ingest's one event loop: per call normalising, the event and its envelope; the "
        f"request's events go as one record batch per partition: {shares('batch', 'leadpipe')}"
    )
    return [
        Figure(
            id="ingest.single_event",
            figure=f"ingest single-event requests/s ({plan.single_connections} keep-alive clients)",
            unit="req/s",
            leadpipe=median(single["leadpipe"]),
            baseline=median(single["baseline"]),
            baseline_name="bare ASGI app, same uvicorn settings",
            target="≥ 0.5",
            limited_by=single_limit,
            samples=single,
            details={"runs": [c for c in checks if c["figure"] == "single"]},
        ),
        Figure(
            id="ingest.single_event.floor",
            figure=f"ingest single-event requests/s ({plan.single_connections} keep-alive "
            "clients), beside the bare app that also sends each post to Kafka",
            unit="req/s",
            leadpipe=median(floored["leadpipe"]),
            baseline=median(floored["baseline"]),
            baseline_name="bare ASGI app answering after one acknowledged Kafka send of the "
            f"body, ingest's producer and send path; {floor_share:.2f}× the bare app itself",
            # Context for the row above: no ingest on uvicorn that answers after aiokafka's
            # ack can be faster than this app, so its share of the bare app caps that ratio.
            target="—",
            limited_by=f"{shares('single', 'floor')}; Kafka's broker shares the machine's "
            "cores with the server during these runs, not during the bare app's",
            samples=floored,
            details={"runs": [c for c in checks if c["figure"] == "single"]},
        ),
        Figure(
            id="ingest.concurrent_posts",
            figure=f"ingest events/s, {plan.concurrent_posts} concurrent single-event posts",
            unit="ev/s",
            leadpipe=median(many["leadpipe"]),
            baseline=median(many["baseline"]),
            baseline_name=f"raw aiokafka producer, {plan.concurrent_posts} in flight, "
            "acks=all + idempotence",
            # Context for the row below, which holds the batched target: one event per request
            # pays a request's whole cost, so it is not expected to keep pace with the producer.
            target="—",
            limited_by=many_limit,
            samples=many,
            details={"runs": [c for c in checks if c["figure"] == "many"]},
        ),
        Figure(
            id="ingest.batched",
            figure=f"ingest batched events/s (Segment /v1/batch, {BATCH_SIZE} track calls per "
            f"request, {BATCH_CONNECTIONS} clients)",
            unit="ev/s",
            leadpipe=median(batched["leadpipe"]),
            baseline=median(batched["baseline"]),
            baseline_name=f"raw aiokafka producer, {plan.concurrent_posts} in flight, "
            "acks=all + idempotence (the run above)",
            target="≥ 0.5",
            limited_by=batch_limit,
            samples=batched,
            details={"runs": [c for c in checks if c["figure"] == "batch"]},
        ),
        Figure(
            id="rss.ingest",
            figure="peak RSS ingest (under the closed-loop load above)",
            unit="MiB",
            leadpipe=peak_rss / 1024,
            baseline=idle_rss / 1024,
            baseline_name="idle after start",
            target="—",
            limited_by="kernel VmHWM of the process",
        ),
    ]

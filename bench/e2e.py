"""The whole pipeline as processes: a form post to ingest until its assignment arrives on
``lead.routed.v1``, at fixed offered rates, and the memory each service needed meanwhile."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from bench.plan import Plan
from bench.processes import Process, ProcessGroup, run_loadgen
from bench.report import Figure
from bench.stack import BenchStack
from bench.stats import percentile
from leadpipe.cli.tokens import add_token
from leadpipe.shared.auth import Scope, issue_token
from leadpipe.shared.kafka import start_tail_reader
from leadpipe.shared.privacy import record_key

P99_LIMIT_S = 1.0
REPS = (
    {"name": "Anna Schmidt", "email": "anna.schmidt@bench.example", "role": "ae"},
    {"name": "Jonas Weber", "email": "jonas.weber@bench.example", "role": "ae"},
)


class Arrivals:
    """When each lead's first assignment was read from ``lead.routed.v1`` (monotonic clock,
    which on Linux is one clock for all processes, so the generator's send times compare)."""

    def __init__(self, reader: AIOKafkaConsumer) -> None:
        self._reader = reader
        self.seen: dict[str, float] = {}
        self.expected: set[str] = set()  # every lead accepted by ingest so far
        self._arrived = asyncio.Event()

    async def run(self) -> None:
        while True:
            batches = await self._reader.getmany(timeout_ms=50)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        self.seen.setdefault(record.key.decode(), now)
            if batches:
                self._arrived.set()

    def pending(self) -> list[str]:
        return [key for key in self.expected if key not in self.seen]

    async def wait_for(self, keys: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while any(key not in self.seen for key in keys):
            self._arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=left)


async def ensure_reps(routing: Process, database_url: str) -> None:
    token = issue_token(f"bench-{uuid.uuid4().hex[:8]}", Scope.ADMIN)
    await add_token(database_url, token)
    headers = {"Authorization": f"Bearer {token.token}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        existing = {rep["email"] for rep in (await client.get(f"{routing.url}/v1/reps")).json()}
        for rep in REPS:
            if rep["email"] not in existing:
                (await client.post(f"{routing.url}/v1/reps", json=rep)).raise_for_status()


async def offer(
    rate: int,
    duration_s: float,
    drain_s: float,
    settle_s: float,
    ingest: Process,
    arrivals: Arrivals,
    services: dict[str, Process],
    seed: int,
    work_dir: Path,
) -> dict[str, Any]:
    """Post routed leads at ``rate``/s for ``duration_s`` and wait for their assignments."""
    count = max(2, int(rate * duration_s))
    spec = {
        "mode": "open",
        "host": "127.0.0.1",
        "port": ingest.port,
        "rate": rate,
        "posts": {"kind": "routed", "seed": seed, "stream": f"e2e-{rate}", "count": count},
    }
    # A backlog left by a faster rate would count against this one: let it drain first.
    await arrivals.wait_for(arrivals.pending(), timeout_s=settle_s)
    backlog = len(arrivals.pending())
    cpu_before = {name: p.cpu_seconds() for name, p in services.items()}
    waited_before = {name: p.run_queue_seconds() for name, p in services.items()}
    wall_before = time.monotonic()
    sent = await run_loadgen(spec, work_dir, f"e2e-{rate}")
    accepted = [
        (record_key(key), t_send) for key, t_send, _, status in sent["requests"] if status == 202
    ]
    arrivals.expected.update(key for key, _ in accepted)
    await arrivals.wait_for([key for key, _ in accepted], timeout_s=drain_s)
    wall = time.monotonic() - wall_before
    latencies = [
        arrivals.seen[key] - t_send if key in arrivals.seen else math.inf
        for key, t_send in accepted
    ]
    answers = [t_done - t_send for _, t_send, t_done, _ in sent["requests"]]
    statuses: dict[str, int] = {}
    for *_, status in sent["requests"]:
        statuses[str(status)] = statuses.get(str(status), 0) + 1  # 0: no answer
    p50, p95, p99 = (percentile(latencies, q) if latencies else math.inf for q in (50, 95, 99))
    sustained = (
        len(accepted) == count and sent["achieved_per_s"] >= 0.95 * rate and p99 < P99_LIMIT_S
    )
    return {
        "offered_per_s": rate,
        "achieved_per_s": sent["achieved_per_s"],
        "sent": count,
        "accepted": len(accepted),
        "statuses": statuses,
        "routed": sum(1 for latency in latencies if math.isfinite(latency)),
        "p50_ms": p50 * 1000,
        "p95_ms": p95 * 1000,
        "p99_ms": p99 * 1000,
        "ingest_answer_p99_ms": percentile(answers, 99) * 1000 if answers else None,
        "sustained": sustained,
        "drain_s": drain_s,
        "backlog_at_start": backlog,
        "generator_cpu_share": sent["generator_cpu_share"],
        "max_schedule_lag_ms": sent["max_schedule_lag_s"] * 1000,
        "service_cpu_share": {
            name: (p.cpu_seconds() - cpu_before[name]) / wall for name, p in services.items()
        },
        "service_run_queue_share": {
            name: (p.run_queue_seconds() - waited_before[name]) / wall
            for name, p in services.items()
        },
    }


def _ms(value: float, drain_s: float) -> str:
    """A lead not routed before the drain timeout is slower than that, not lost."""
    return f"{value:.0f}" if math.isfinite(value) else f"> {drain_s * 1000:.0f}"


async def run(
    stack: BenchStack, plan: Plan, seed: int, group: ProcessGroup, work_dir: Path
) -> list[Figure]:
    settings = stack.settings("e2e")
    services = group.start_services(settings, ["scoring", "routing", "ingest"])
    ingest = services["ingest"]
    await ensure_reps(services["routing"], stack.database_url)
    reader = await start_tail_reader(settings.kafka_bootstrap, settings.topics.routed)
    arrivals = Arrivals(reader)
    watcher = asyncio.create_task(arrivals.run())
    results: dict[int, dict[str, Any]] = {}
    try:
        # Warm-up: connection pools, prepared statement caches, the first rebalances.
        await offer(10, 1.0, plan.e2e_drain_s, 0.0, ingest, arrivals, services, seed, work_dir)
        for rate in plan.e2e_rates:
            results[rate] = await offer(
                rate,
                plan.e2e_duration_s,
                plan.e2e_drain_s,
                plan.e2e_settle_s,
                ingest,
                arrivals,
                services,
                seed,
                work_dir,
            )
        for rate in plan.e2e_ladder:
            if any(not results[r]["sustained"] for r in results if r <= rate):
                break  # a lower rate already failed: higher ones will not hold
            if any(results[r]["sustained"] for r in results if r >= rate):
                continue  # already shown to hold at this rate or a higher one
            results[rate] = await offer(
                rate,
                plan.e2e_duration_s,
                plan.e2e_drain_s,
                plan.e2e_settle_s,
                ingest,
                arrivals,
                services,
                seed,
                work_dir,
            )
        peaks = {name: (p.peak_rss_kib(), p.idle_rss_kib) for name, p in services.items()}
    finally:
        watcher.cancel()
        with suppress(asyncio.CancelledError):
            await watcher
        await reader.stop()
        for name in ("ingest", "routing", "scoring"):
            group.stop(name)
    figures = []
    for rate in plan.e2e_rates:
        r = results[rate]
        figures.append(
            Figure(
                id=f"e2e.latency.{rate}",
                figure=f"e2e form post → lead.routed.v1 latency at {rate} leads/s offered",
                unit="ms",
                leadpipe=r["p99_ms"] if math.isfinite(r["p99_ms"]) else None,
                baseline=None,
                baseline_name="",
                baseline_text="—",
                leadpipe_text=f"p50 {_ms(r['p50_ms'], r['drain_s'])} / "
                f"p95 {_ms(r['p95_ms'], r['drain_s'])} / p99 {_ms(r['p99_ms'], r['drain_s'])} ms "
                f"({r['routed']}/{r['sent']} routed in time"
                + (
                    f"; {r['sent'] - r['accepted']} not accepted"
                    if r["accepted"] < r["sent"]
                    else ""
                )
                + (f"; began {r['backlog_at_start']} behind" if r["backlog_at_start"] else "")
                + ")",
                target="p99 < 1 s at 200/s, p50 < 50 ms",
                limited_by="CPU: three services, Kafka and PostgreSQL share the cores; share of "
                "a core each service ran / waited runnable for a CPU: "
                + ", ".join(
                    f"{name} {r['service_cpu_share'][name]:.0%} / "
                    f"{r['service_run_queue_share'][name]:.0%}"
                    for name in r["service_cpu_share"]
                ),
                details=r,
            )
        )
    held = [rate for rate, r in results.items() if r["sustained"]]
    highest = max(held) if held else None
    tried = max(results)
    figures.append(
        Figure(
            id="e2e.highest_sustained",
            figure="e2e highest sustained rate with p99 < 1 s",
            unit="leads/s",
            leadpipe=float(highest) if highest is not None else None,
            baseline=None,
            baseline_name="",
            baseline_text="—",
            leadpipe_text=(
                "none of the rates tried"
                if highest is None
                else f"{highest} leads/s" + (" (highest tried)" if highest == tried else "")
            ),
            target="≥ 200 leads/s",
            limited_by="see the latency rows; rates tried: "
            + ", ".join(f"{r}{'✓' if results[r]['sustained'] else '✗'}" for r in sorted(results)),
            details={str(rate): r for rate, r in sorted(results.items())},
        )
    )
    for name in ("scoring", "routing"):
        peak, idle = peaks[name]
        figures.append(
            Figure(
                id=f"rss.{name}",
                figure=f"peak RSS {name} (under the e2e load above)",
                unit="MiB",
                leadpipe=peak / 1024,
                baseline=idle / 1024,
                baseline_name="idle after start",
                target="—",
                limited_by="kernel VmHWM of the process",
            )
        )
    return figures

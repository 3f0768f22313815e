"""One benchmark run: the stack, every figure in a fixed order, one table, one JSON file."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench import consumers, e2e, ingest, machine, whatif
from bench.plan import Plan
from bench.processes import ProcessGroup
from bench.report import Figure, render, write
from bench.stack import BenchStack, bench_stack
from leadpipe.localstack.repo import repo_root

PHASES = ("ingest", "scoring", "routing", "e2e", "scale")


def default_results_dir() -> Path:
    return repo_root() / "bench" / "results"


async def run(
    plan: Plan,
    *,
    seed: int,
    results_dir: Path,
    console: Console,
    phases: tuple[str, ...] = PHASES,
) -> Path:
    """Run the plan; returns the JSON file written. ``phases`` picks a subset (for iterating)."""
    started = time.monotonic()
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    work_dir = Path(tempfile.mkdtemp(prefix="leadpipe-bench-"))
    _log_to(results_dir / f"bench-{plan.name}-{stamp}.log")

    def say(line: str) -> None:
        console.print(f"[dim]• {time.monotonic() - started:5.1f}s[/dim] {line}")

    figures: list[Figure] = []
    try:
        async with bench_stack(work_dir, say) as stack:
            description = machine.describe(
                kafka_version=stack.kafka_version,
                postgres=await machine.postgres_facts(stack.dsn),
                stack=stack.how,
            )
            group = ProcessGroup(work_dir)
            steps: dict[str, Callable[[], Awaitable[list[Figure]]]] = {
                "ingest": lambda: ingest.run(stack, plan, seed, group, work_dir),
                "scoring": lambda: _scoring(stack, plan, seed),
                "routing": lambda: consumers.routing(stack, plan, seed),
                "e2e": lambda: e2e.run(stack, plan, seed, group, work_dir),
                "scale": lambda: _scale(stack, plan, seed),
            }
            try:
                for phase in phases:
                    say(f"{phase}…")
                    figures.extend(await steps[phase]())
            finally:
                group.stop_all()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    description["load_average_at_end"] = machine.load_average()
    elapsed = time.monotonic() - started
    render(figures, console)
    path = results_dir / f"bench-{plan.name}-{stamp}.json"
    write(
        path,
        {
            "schema": 1,
            "mode": plan.name,
            "seed": seed,
            "started_at": started_at.isoformat(),
            "duration_s": round(elapsed, 1),
            "phases": list(phases),
            "machine": description,
        },
        figures,
    )
    console.print(f"{plan.name} run took {elapsed:.0f} s; written to {path} (and .md)")
    return path


def _log_to(path: Path) -> None:
    """The clients' own logs (aiokafka, SQLAlchemy) go to a file: the console shows the table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


async def _scoring(stack: BenchStack, plan: Plan, seed: int) -> list[Figure]:
    """Scoring's throughput, then the what-if replay of the history it stored."""
    return [*await consumers.scoring(stack, plan, seed), *await whatif.whatif(stack, plan)]


async def _scale(stack: BenchStack, plan: Plan, seed: int) -> list[Figure]:
    if not plan.scale_sizes:
        return []
    return await consumers.scale(stack, plan, seed)

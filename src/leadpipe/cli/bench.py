"""``leadpipe bench``: every benchmark figure beside its baseline, measured in one run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leadpipe.localstack.repo import repo_root

app = typer.Typer(help="Benchmarks: one table, every figure beside its baseline.")
# Wide enough for the table when the output is a file or a pipe (CI logs, tests).
console = Console(width=None if Console().is_terminal else 180)


@app.callback(invoke_without_command=True)
def bench(
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="The full run: longer runs, more rates, scale with up to 1M leads."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated leads and events.")] = 20261125,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the JSON and Markdown results (default: bench/results)."),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only these phases: ingest, scoring, routing, e2e, scale (repeatable)."
        ),
    ] = None,
) -> None:
    """Run the quick benchmark (under 2 minutes), or the full one with --full.

    Uses the Kafka and PostgreSQL named by LEADPIPE_KAFKA_BOOTSTRAP and LEADPIPE_DATABASE_URL
    when both are set, otherwise starts a throwaway local stack on free ports; either way the
    run works in a database and topics of its own and removes them afterwards."""
    # bench/ sits beside the packages in the checkout, like the migrations: not in the wheel.
    root = str(repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    import uvloop

    from bench.plan import FULL, QUICK
    from bench.runner import PHASES, default_results_dir, run

    only = only or []
    unknown = sorted(set(only) - set(PHASES))
    if unknown:
        console.print(
            f"[red]--only:[/red] unknown phase(s) {', '.join(unknown)}; "
            f"choose from {', '.join(PHASES)}"
        )
        raise typer.Exit(2)
    phases = tuple(p for p in PHASES if not only or p in only)
    uvloop.run(
        run(
            FULL if full else QUICK,
            seed=seed,
            results_dir=out or default_results_dir(),
            console=console,
            phases=phases,
        )
    )

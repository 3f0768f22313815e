"""``leadpipe rules validate | simulate | activate FILE``: the scoring rules as data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from leadpipe.cli.config import load_environment
from leadpipe.scoring.adapters.lead_histories import LeadHistories
from leadpipe.scoring.adapters.rules_store import VersionConflict, activate
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.rules.loader import RulesError, load_rules_file
from leadpipe.scoring.service.views import WhatIfReport
from leadpipe.scoring.service.whatif import what_if
from leadpipe.shared.db import make_engine, make_sessionmaker

app = typer.Typer(
    help="Scoring rules: check a rules file, see what it would change, make it the active one.",
    no_args_is_help=True,
)
FILE = typer.Argument(..., help="A rules file (YAML), e.g. rules/default.yaml.")


def _load(path: Path, console: Console) -> Rules:
    try:
        return load_rules_file(path)
    except RulesError as exc:
        console.print(
            f"[red]{path} is invalid[/red] ({len(exc.problems)} problem(s)):", soft_wrap=True
        )
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc


@app.command()
def validate(path: Path = FILE) -> None:
    """Check FILE against the rules schema and for consistency; print every problem with its
    file, path and reason."""
    console = Console()
    rules = _load(path, console)
    console.print(
        f"{path} is valid: version {rules.version}, {rules.framework}, "
        f"{len(rules.signals)} signals, {len(rules.categories)} categories",
        # A path is copied from here: the terminal may wrap it, rich must not break it.
        soft_wrap=True,
    )


async def run_simulation(database_url: str, draft: Rules, out: Console) -> WhatIfReport:
    engine = make_engine(database_url, pool_size=1)
    try:
        with Progress(
            TextColumn("replaying leads"), BarColumn(), MofNCompleteColumn(), console=out
        ) as bar:
            task = bar.add_task("replay", total=None)
            async with make_sessionmaker(engine)() as session, session.begin():
                await session.connection(execution_options={"postgresql_readonly": True})
                return await what_if(
                    await LeadHistories.of(session),
                    draft,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    finally:
        await engine.dispose()


def print_report(report: WhatIfReport, out: Console) -> None:
    out.print(
        f"Draft {report.draft_version}: {report.changed} of {report.leads} leads would change stage."
    )
    if report.by_stage:
        counts = Table("live stage → draft stage", "leads")
        for pair, count in sorted(report.by_stage.items(), key=lambda item: -item[1]):
            counts.add_row(pair, str(count))
        out.print(counts)
        shifts = Table("lead", "from", "to", "why")
        for shift in report.shifts:
            shifts.add_row(
                shift.email or shift.lead_id, shift.from_stage, shift.to_stage, shift.why
            )
        out.print(shifts)


@app.command()
def simulate(path: Path = FILE) -> None:
    """What-if: replay the stored event history of every lead under FILE, without touching live
    state, and show how many leads would change stage, which ones and why."""
    console = Console()
    draft = _load(path, console)
    env = load_environment()
    try:
        report = asyncio.run(run_simulation(env.settings.database_url, draft, console))
    except (OSError, OperationalError, DBAPIError) as exc:
        console.print(f"[red]cannot reach PostgreSQL:[/red] {exc}; run `leadpipe up`")
        raise typer.Exit(1) from exc
    print_report(report, console)


async def activate_text(database_url: str, text: str, file: str) -> Rules:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await activate(session, text, file, datetime.now(UTC))
    finally:
        await engine.dispose()


@app.command("activate")
def activate_command(path: Path = FILE) -> None:
    """Store FILE in PostgreSQL as the active rules version; the scoring service applies it
    from its next batch on. Every score change records the version that produced it."""
    console = Console()
    _load(path, console)
    env = load_environment()
    try:
        rules = asyncio.run(
            activate_text(env.settings.database_url, path.read_text("utf-8"), str(path))
        )
    except VersionConflict as exc:
        console.print(f"[red]not activated:[/red] {exc}")
        raise typer.Exit(1) from exc
    except (OSError, OperationalError, DBAPIError) as exc:
        console.print(f"[red]cannot reach PostgreSQL:[/red] {exc}; run `leadpipe up`")
        raise typer.Exit(1) from exc
    console.print(f"rules version {rules.version} is now active")

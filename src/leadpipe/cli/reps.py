"""``leadpipe reps``: sales reps for routing, from a CSV or YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from leadpipe.cli.config import load_environment
from leadpipe.cli.refusals import refusal
from leadpipe.cli.tokens import cli_headers
from leadpipe.routing.entrypoints.rep_file import RepFileError, parse_reps

app = typer.Typer(help="Sales reps that routing assigns leads to.", no_args_is_help=True)
# Messages carry paths and names to copy: the terminal may wrap them, rich must not break them.
console = Console(soft_wrap=True)


def _routing_url() -> str:
    settings = load_environment().settings
    return f"http://{settings.host}:{settings.routing_port}"


def _headers() -> dict[str, str]:
    return cli_headers(load_environment())


@app.command("import")
def import_reps(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="A .csv, .yaml or .yml file."),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check the file.")] = False,
) -> None:
    """Create or update reps (matched by email) from FILE, all or nothing.

    Fields: name, email, role (bdr|ae), territories, segments (smb|mid-market|enterprise),
    languages, capacity, weight, time_zone, working_hours ("mon-fri 09:00-17:00"),
    holiday_calendar (DE or DE-BY), out_of_office (2026-08-03..2026-08-14), active. In CSV,
    list cells separate values with ';'. Errors name the row, the field and the reason.
    """
    try:
        reps = parse_reps(file.read_text(encoding="utf-8"), file.name)
    except RepFileError as exc:
        for error in exc.errors:
            console.print(f"[red]{file.name}:[/red] {error}")
        raise typer.Exit(1) from exc
    if dry_run:
        console.print(f"{file.name}: {len(reps)} rep(s), all valid.")
        return
    body = {"reps": [rep.model_dump(mode="json") for rep in reps]}
    try:
        response = httpx.post(
            f"{_routing_url()}/v1/reps/import", json=body, headers=_headers(), timeout=30
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]routing is not reachable:[/red] {exc}; run `leadpipe up`")
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        console.print(f"[red]import refused ({response.status_code}):[/red] {refusal(response)}")
        raise typer.Exit(1)
    result = response.json()
    console.print(f"{file.name}: {result['created']} rep(s) created, {result['updated']} updated.")


@app.command("list")
def list_reps() -> None:
    """Show the reps routing knows, with their open leads."""
    try:
        reps = (
            httpx.get(f"{_routing_url()}/v1/reps", headers=_headers(), timeout=10)
            .raise_for_status()
            .json()
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]routing is not reachable:[/red] {exc}; run `leadpipe up`")
        raise typer.Exit(1) from exc
    table = Table("name", "email", "role", "open", "capacity", "time zone", "hours", "active")
    for rep in reps:
        table.add_row(
            rep["name"],
            rep["email"],
            rep["role"],
            str(rep["open_leads"]),
            str(rep["capacity"] if rep["capacity"] is not None else "∞"),
            rep["time_zone"],
            rep["working_hours"] or "always",
            "yes" if rep["active"] else "no",
        )
    console.print(table, soft_wrap=False)

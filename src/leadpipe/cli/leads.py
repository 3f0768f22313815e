"""``leadpipe lead show EMAIL``: one person's stage, scores, reasons, open questions and
consent."""

from __future__ import annotations

from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from leadpipe.cli.config import load_environment
from leadpipe.cli.tokens import cli_headers

app = typer.Typer(help="Look at leads as scoring sees them.", no_args_is_help=True)
console = Console()


def print_lead(lead: dict[str, Any], assignments: list[dict[str, Any]], out: Console) -> None:
    name = " ".join(part for part in (lead["first_name"], lead["last_name"]) if part)
    out.print(
        f"[bold]{name or lead['email']}[/bold] ({lead['email']}) "
        f"{lead['company'] or ''}\n"
        f"stage [bold]{lead['stage']}[/bold] · fit {lead['fit']} · engagement "
        f"{lead['engagement']} · qualification {lead['qualification']} · grade "
        f"{lead['grade'] or '-'} · {lead['temperature']} · rules {lead['rules_version']}",
        highlight=False,
    )
    reasons = Table("score", "change", "reason", "event", title="Why these scores")
    for reason in lead["reasons"]:
        reasons.add_row(
            reason["component"],
            f"{reason['delta']:+d}",
            reason["reason"],
            (reason["event_id"] or "")[:8],
        )
    out.print(reasons)
    history = Table("from", "to", "reason", title="Lifecycle")
    for move in lead["history"]:
        to_stage = f"{move['to_stage']} (refused)" if move["refused"] else move["to_stage"]
        history.add_row(move["from_stage"] or "(new)", to_stage, move["reason"])
    out.print(history)
    if lead["open_questions"]:
        out.print("[bold]Ask next:[/bold]")
        for question in lead["open_questions"]:
            out.print(f"  {question['criterion']}: {question['question']}", highlight=False)
    consents = lead.get("consents") or []
    if consents:
        table = Table("purpose", "text version", "given", "source", "withdrawn", title="Consent")
        for consent in consents:
            withdrawn = (
                f"{consent['withdrawn_at']} via {consent['withdrawn_via']}"
                if consent["withdrawn"]
                else "no"
            )
            table.add_row(
                consent["purpose"],
                consent["text_version"] or "-",
                consent["given_at"] or "(never recorded)",
                consent["source"],
                withdrawn,
            )
        out.print(table)
    if lead.get("tracking_stopped"):
        out.print("Tracking calls are not scored: consent was withdrawn.", highlight=False)
    for assignment in assignments:
        rep = assignment.get("rep") or {}
        out.print(
            f"Assignment: {assignment.get('kind', '')} → {rep.get('name', 'queue')} "
            f"({assignment.get('reason', '')})",
            highlight=False,
        )


@app.command()
def show(email: str = typer.Argument(..., help="The lead's email address.")) -> None:
    """Print a lead's stage, scores with their reasons, lifecycle history, the qualification
    questions still open and its assignment (asks the running scoring and routing services)."""
    env = load_environment()
    settings = env.settings
    base = f"http://{settings.host}"
    scoring, routing = f"{base}:{settings.scoring_port}", f"{base}:{settings.routing_port}"
    try:
        with httpx.Client(timeout=10.0, headers=cli_headers(env)) as client:
            response = client.get(f"{scoring}/v1/leads", params={"email": email})
            if response.status_code == 404:
                console.print(f"no lead with the email {email}")
                raise typer.Exit(1)
            response.raise_for_status()
            lead = response.json()
            found = client.get(f"{routing}/v1/leads/{lead['id']}/assignments")
            assignments = found.json() if found.status_code == 200 else []
    except httpx.HTTPError as exc:
        console.print(f"[red]scoring is not reachable at {scoring}:[/red] {exc}; run `leadpipe up`")
        raise typer.Exit(1) from exc
    print_lead(lead, assignments, console)

"""``leadpipe erase EMAIL``: a person's right to erasure (GDPR / DSGVO Art. 17)."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer
from rich.console import Console

from leadpipe.cli.config import load_environment
from leadpipe.cli.refusals import refusal
from leadpipe.cli.tokens import cli_headers

console = Console()


def erase(email: Annotated[str, typer.Argument(help="The person's email address.")]) -> None:
    """Erase a person's personal data from scoring and routing; keep anonymous counts; print
    the receipt (which holds no personal data). Their events still in Kafka are ignored."""
    env = load_environment()
    url = f"http://{env.settings.host}:{env.settings.scoring_port}/v1/erasures"
    try:
        response = httpx.post(url, json={"email": email}, headers=cli_headers(env), timeout=30)
    except httpx.HTTPError as exc:
        console.print(f"[red]scoring is not reachable:[/red] {exc}; run `leadpipe up`")
        raise typer.Exit(1) from exc
    if response.status_code != 201:
        console.print(f"[red]erasure refused ({response.status_code}):[/red] {refusal(response)}")
        raise typer.Exit(1)
    receipt = response.json()
    console.print(f"erasure {receipt['id']} at {receipt['erased_at']}")
    console.print(f"  subject (sha-256 of the email): {receipt['subject_hash']}")
    console.print(
        f"  leads anonymised: {len(receipt['lead_ids'])}; rows removed: {receipt['removed']}"
    )
    console.print("  routing erases its part when it reads the lead.erased event (seconds).")

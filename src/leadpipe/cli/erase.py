"""``leadpipe erase EMAIL`` / ``leadpipe erase --file FILE``: a person's right to erasure
(GDPR / DSGVO Art. 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from leadpipe.cli.config import load_environment
from leadpipe.cli.refusals import refusal
from leadpipe.cli.tokens import cli_headers

console = Console()


class ErasureFailed(RuntimeError):
    pass


def read_emails(path: Path) -> list[str]:
    """One address a line; blank lines and ``#`` comments skipped, repeats erased once."""
    emails: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        email = line.strip()
        if email and not email.startswith("#"):
            emails.setdefault(email, None)
    return list(emails)


def erase(
    email: Annotated[
        str | None, typer.Argument(help="The person's email address.", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Erase every address in this file (one a line; # starts a comment).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
) -> None:
    """Erase a person's personal data from scoring and routing and shred their events on the
    topics; keep anonymous counts; print the receipt (which holds no personal data)."""
    if file is not None and email is None:
        emails = read_emails(file)
    elif email is not None and file is None:
        emails = [email]
    else:
        console.print("[red]name one email address, or a file of them with --file[/red]")
        raise typer.Exit(2)
    env = load_environment()
    url = f"http://{env.settings.host}:{env.settings.scoring_port}/v1/erasures"
    failed = 0
    with httpx.Client(headers=cli_headers(env), timeout=30) as client:
        for number, address in enumerate(emails, 1):
            label = f"[{number}/{len(emails)}] " if file is not None else ""
            try:
                receipt = _erase_one(client, url, address)
            except ErasureFailed as exc:
                failed += 1
                console.print(f"{label}[red]{exc}[/red]")
                continue
            _print_receipt(label, receipt)
    if file is not None:
        console.print(f"{len(emails) - failed} of {len(emails)} people erased; {failed} failed")
    if failed:
        raise typer.Exit(1)


def _erase_one(client: httpx.Client, url: str, email: str) -> dict[str, Any]:
    try:
        response = client.post(url, json={"email": email})
    except httpx.HTTPError as exc:
        raise ErasureFailed(f"scoring is not reachable: {exc}; run `leadpipe up`") from exc
    if response.status_code != 201:
        raise ErasureFailed(f"erasure refused ({response.status_code}): {refusal(response)}")
    receipt: dict[str, Any] = response.json()
    return receipt


def _print_receipt(label: str, receipt: dict[str, Any]) -> None:
    console.print(f"{label}erasure {receipt['id']} at {receipt['erased_at']}")
    console.print(f"  subject (sha-256 of the email): {receipt['subject_hash']}")
    console.print(
        f"  leads anonymised: {len(receipt['lead_ids'])}; rows removed: {receipt['removed']}"
    )
    console.print("  routing erases its part when it reads the lead.erased event (seconds).")

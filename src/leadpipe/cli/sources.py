"""``leadpipe source add|list|revoke``: the senders ingest accepts events from."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadpipe.cli.config import load_environment, secrets_key
from leadpipe.ingest.adapters.orm import SourceRow
from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_store import (
    NewSource,
    SourceExists,
    SourceOptions,
    add_source,
    all_sources,
    revoke_source,
)
from leadpipe.ingest.domain.providers import PROVIDERS, SOURCE_KINDS
from leadpipe.ingest.domain.sources import SourceKind, thank_you_url
from leadpipe.shared.db import make_engine, make_sessionmaker

app = typer.Typer(
    help="Sources: the forms, tracking clients and webhook senders ingest accepts events from.",
    no_args_is_help=True,
)
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


async def _add(name: str, kind: str, options: SourceOptions) -> NewSource:
    env = load_environment()
    engine = make_engine(env.settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await add_source(session, SecretBox(secrets_key(env)), name, kind, options)
    finally:
        await engine.dispose()


async def _list() -> list[SourceRow]:
    engine = make_engine(load_environment().settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            return await all_sources(session)
    finally:
        await engine.dispose()


async def _revoke(name: str) -> bool:
    engine = make_engine(load_environment().settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await revoke_source(session, name, datetime.now(UTC))
    finally:
        await engine.dispose()


def _console() -> Console:
    """Made per command, for the terminal's width then. Messages carry names and credentials
    to copy: the terminal may wrap them, rich must not break them."""
    return Console(soft_wrap=True)


def _known_kind(kind: str) -> str:
    if kind not in SOURCE_KINDS:
        raise typer.BadParameter(f"{kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    return kind


@app.command("add")
def add(
    name: Annotated[
        str, typer.Argument(help="Letters, digits, '.', '_' or '-'; a form's name is its id.")
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            callback=_known_kind,
            help="segment (tracking clients), form, or a webhook provider: "
            + "; ".join(f"{kind} = {provider.description}" for kind, provider in PROVIDERS.items())
            + ".",
        ),
    ],
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin", help="form: an origin allowed to post cross-site (repeatable)."
        ),
    ] = None,
    thank_you: Annotated[
        str | None,
        typer.Option("--thank-you", help="form: where a plain HTML post is redirected (303)."),
    ] = None,
    unsigned: Annotated[
        bool,
        typer.Option(
            "--unsigned",
            help="webhook: a token instead of signatures, for senders that cannot sign.",
        ),
    ] = False,
    client_secret: Annotated[
        str | None,
        typer.Option(
            "--client-secret", help="hubspot: the app's client secret (generated when omitted)."
        ),
    ] = None,
) -> None:
    """Create a source and print its write key, secret or token (shown this one time only)."""
    console = _console()
    if not NAME.fullmatch(name):
        console.print("[red]NAME[/red]: use 1-100 letters, digits, '.', '_' or '-'")
        raise typer.Exit(2)
    if thank_you is not None:
        try:
            thank_you = thank_you_url(thank_you)
        except ValueError as exc:
            console.print(f"[red]--thank-you[/red]: {exc} (got {thank_you!r})")
            raise typer.Exit(2) from exc
    options = SourceOptions(tuple(allow_origin or ()), thank_you, unsigned, client_secret)
    try:
        created = asyncio.run(_add(name, kind, options))
    except SourceExists as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"source [bold]{name}[/bold] ({kind}) created.")
    if kind == SourceKind.FORM:
        console.print(f"form endpoint: POST /v1/forms/{name}")
    elif kind == SourceKind.SEGMENT:
        console.print("tracking endpoint: POST /v1/batch (and /v1/identify, /v1/track, …)")
    else:
        console.print(f"webhook URL: POST /v1/webhooks/{name}")
    if created.credential:
        console.print(f"{created.credential_kind} (shown once, keep it safe):")
        # Plain print: no wrapping or markup may alter the credential.
        print(created.credential)


@app.command("list")
def list_() -> None:
    """Show every source, its kind and whether it is active; never its keys."""
    console = _console()
    table = Table("name", "kind", "state", "created", "options")
    for row in asyncio.run(_list()):
        state = "[red]revoked[/red]" if row.revoked_at else "[green]active[/green]"
        options = ", ".join(f"{k}={v}" for k, v in row.options.items() if v)
        table.add_row(row.name, row.kind, state, f"{row.created_at:%Y-%m-%d %H:%M}", options)
    console.print(table, soft_wrap=False)


@app.command("revoke")
def revoke(name: str) -> None:
    """Stop accepting events from a source; ingest refuses it from the moment this returns."""
    console = _console()
    if not asyncio.run(_revoke(name)):
        console.print(f"[red]no active source named {name!r}[/red]")
        raise typer.Exit(1)
    console.print(f"source {name} revoked.")

"""``leadpipe token add | list | revoke``, and the token the CLI itself uses.

A token is valid for both APIs (scoring and routing): its digest goes into each service's
own ``api_tokens`` table in one transaction."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from leadpipe.cli.config import Environment, load_environment
from leadpipe.routing.adapters.orm import api_tokens as routing_tokens
from leadpipe.scoring.adapters.orm import api_tokens as scoring_tokens
from leadpipe.shared.auth import IssuedToken, Scope, issue_token, revoke_token, store_token
from leadpipe.shared.db import make_engine, make_sessionmaker

app = typer.Typer(help="API tokens for the read and admin APIs.", no_args_is_help=True)
console = Console()
TABLES = (scoring_tokens, routing_tokens)
CLI_TOKEN_NAME = "leadpipe-cli"
TOKEN_ENV = "LEADPIPE_API_TOKEN"


class TokenExists(ValueError):
    pass


async def add_token(database_url: str, token: IssuedToken) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for table in TABLES:
                await store_token(session, table, token)
    except IntegrityError as exc:
        raise TokenExists(f"a token named {token.name!r} exists; revoke it first") from exc
    finally:
        await engine.dispose()


async def remove_token(database_url: str, name: str) -> bool:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            removed = [await revoke_token(session, table, name) for table in TABLES]
    finally:
        await engine.dispose()
    return any(removed)


async def list_tokens(database_url: str) -> list[tuple[str, str, datetime]]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            table = scoring_tokens
            rows = await session.execute(
                select(table.c.name, table.c.scope, table.c.created_at).order_by(table.c.name)
            )
            return [(r.name, r.scope, r.created_at) for r in rows]
    finally:
        await engine.dispose()


async def register_token(database_url: str, token: IssuedToken) -> None:
    """Store ``token`` in every service, in place of any token of the same name."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for table in TABLES:
                await revoke_token(session, table, token.name)
                await store_token(session, table, token)
    finally:
        await engine.dispose()


def ensure_cli_token(env: Environment) -> None:
    """Give this checkout's CLI an admin token of its own, kept in a file only its user can
    read, and registered in the database on every ``leadpipe up``: the file outlives
    databases (a wiped local stack, another LEADPIPE_DATABASE_URL), and a token the database
    does not know would only get 401s. Made anew when the file is missing or empty."""
    path = env.state_dir / "cli-token"
    kept = path.read_text().strip() if path.exists() else ""
    token = IssuedToken(CLI_TOKEN_NAME, Scope.ADMIN, kept) if kept else None
    if token is None:
        token = issue_token(CLI_TOKEN_NAME, Scope.ADMIN)
    asyncio.run(register_token(env.settings.database_url, token))
    if not kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(token.token + "\n")


def cli_headers(env: Environment) -> dict[str, str]:
    """The Authorization header for the CLI's API calls: LEADPIPE_API_TOKEN, else the token
    `leadpipe up` made for this checkout."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        path = env.state_dir / "cli-token"
        if not path.exists():
            raise typer.BadParameter(
                f"no API token: set {TOKEN_ENV} or run `leadpipe up`, which makes one"
            )
        token = path.read_text().strip()
    return {"Authorization": f"Bearer {token}"}


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Who or what uses the token, e.g. crm-sync.")],
    scope: Annotated[
        Scope, typer.Option(help="read: the read APIs; admin: everything.")
    ] = Scope.READ,
) -> None:
    """Make a token and print it once; only its SHA-256 is stored."""
    token = issue_token(name, scope)
    try:
        asyncio.run(add_token(load_environment().settings.database_url, token))
    except TokenExists as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"token {name!r} ({scope.value}); shown only now:")
    print(token.token)


@app.command("list")
def list_command() -> None:
    """Names, scopes and creation times of the tokens (never the tokens)."""
    table = Table("name", "scope", "created")
    for name, scope, created in asyncio.run(list_tokens(load_environment().settings.database_url)):
        table.add_row(name, scope, created.isoformat(timespec="seconds"))
    console.print(table)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token; the services stop accepting it within seconds."""
    if not asyncio.run(remove_token(load_environment().settings.database_url, name)):
        console.print(f"[red]no token named {name!r}[/red]")
        raise typer.Exit(1)
    console.print(f"token {name!r} revoked")

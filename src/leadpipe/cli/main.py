"""The ``leadpipe`` command line."""

from __future__ import annotations

import asyncio

import httpx
import typer
from rich.console import Console
from rich.table import Table

from leadpipe.cli import dlq, erase, leads, reps, rules, tokens
from leadpipe.cli.bench import app as bench_app
from leadpipe.cli.config import load_environment, pseudonyms_of
from leadpipe.cli.demo import print_result, run_demo
from leadpipe.cli.refusals import refusal
from leadpipe.cli.services import service_status, start_services, stop_services
from leadpipe.cli.sources import app as sources_app
from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.repo import repo_root
from leadpipe.shared import migrate

app = typer.Typer(
    help="leadpipe: real-time lead scoring and routing on Kafka and PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations (one schema per service).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(rules.app, name="rules")
app.add_typer(leads.app, name="lead")
app.add_typer(dlq.app, name="dlq")
app.add_typer(reps.app, name="reps")
app.add_typer(tokens.app, name="token")
app.command("erase")(erase.erase)
app.add_typer(sources_app, name="source")
app.add_typer(bench_app, name="bench")
console = Console()


def _say(line: str) -> None:
    console.print(f"[dim]•[/dim] {line}")


@app.command()
def up() -> None:
    """Start Kafka and PostgreSQL (unless LEADPIPE_KAFKA_BOOTSTRAP / LEADPIPE_DATABASE_URL name
    running ones), run the migrations and start the three services in the background."""
    env = load_environment()
    try:
        if env.stack is not None:
            env.stack.up(_say)
        _say("migrations: upgrading the ingest, scoring and routing schemas…")
        migrate.upgrade(repo_root(), env.settings.database_url)
        tokens.ensure_cli_token(env)
        start_services(env, _say)
    except LocalStackError as exc:
        console.print(f"[red]leadpipe up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"leadpipe is up. Logs: {env.logs_dir}. Stop it with `leadpipe down`.")


@app.command()
def down() -> None:
    """Stop what `leadpipe up` started: the services, then the local Kafka and PostgreSQL."""
    env = load_environment()
    stop_services(env, _say)
    if env.stack is not None:
        env.stack.down(_say)
    console.print("leadpipe is down.")


@app.command()
def status() -> None:
    """Show each part of the local pipeline, its port and whether it runs."""
    env = load_environment()
    table = Table("part", "port", "state", "pid", "detail")
    parts = (env.stack.status() if env.stack is not None else []) + service_status(env)
    for part in parts:
        state = "[green]running[/green]" if part.running else "[red]stopped[/red]"
        table.add_row(part.name, str(part.port), state, str(part.pid or ""), part.detail)
    console.print(table)


@app.command()
def demo(timeout: float = typer.Option(30.0, help="Seconds to wait for the routed event.")) -> None:
    """Post a demo request for a fictional lead and show how it was scored and routed."""
    env = load_environment()
    try:
        result = asyncio.run(
            run_demo(
                env.settings,
                console,
                tokens.cli_headers(env),
                timeout_s=timeout,
                pseudonyms=pseudonyms_of(env),
            )
        )
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    except httpx.HTTPStatusError as exc:
        request, answer = exc.request, exc.response
        console.print(
            f"[red]demo failed:[/red] {request.method} {request.url} answered "
            f"{answer.status_code}: {refusal(answer, 300)}"
        )
        if answer.status_code == 401:
            console.print(
                "The CLI's API token is unknown to this database: `leadpipe up` registers it, "
                f"or set {tokens.TOKEN_ENV} to a token from `leadpipe token add NAME --scope admin`."
            )
        raise typer.Exit(1) from exc
    print_result(result, console)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION for every service's schema (ingest, scoring, routing)."""
    migrate.upgrade(repo_root(), load_environment().settings.database_url, revision)
    console.print(f"schemas upgraded to {revision}")


if __name__ == "__main__":
    app()

"""``leadpipe dlq list | replay``: look at dead-lettered events and send them back once fixed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadpipe.cli.config import load_environment
from leadpipe.shared.dead_letters import original_headers
from leadpipe.shared.kafka import make_producer, records_to_end
from leadpipe.shared.settings import Settings

app = typer.Typer(help="Dead-lettered events (lead.events.dlq.v1).", no_args_is_help=True)
console = Console()


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return next((v.decode(errors="replace") for k, v in self.headers if k == name), "")


async def read_all(settings: Settings) -> list[DeadLetter]:
    """Every dead letter still on the topic, oldest first per partition."""
    return [
        DeadLetter(r.offset, r.partition, r.key, r.value, list(r.headers))
        async for r in records_to_end(settings.kafka_bootstrap, settings.topics.lead_events_dlq)
    ]


async def replay(settings: Settings, letters: list[DeadLetter]) -> int:
    """Publish each letter to its original topic with its original headers. Consumers drop
    events they already applied, so replaying twice is harmless."""
    producer = make_producer(settings.kafka_bootstrap, "leadpipe-dlq-replay")
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.header("dlq_original_topic"),
                value=letter.value,
                key=letter.key,
                headers=original_headers(letter.headers),
            )
    finally:
        await producer.stop()
    return len(letters)


@app.command("list")
def list_letters() -> None:
    """Show every dead-lettered event: where it came from and why it failed."""
    letters = asyncio.run(read_all(load_environment().settings))
    table = Table("partition", "offset", "event id", "type", "from", "attempts", "error")
    for letter in letters:
        origin = (
            f"{letter.header('dlq_original_topic')}"
            f"[{letter.header('dlq_original_partition')}]@{letter.header('dlq_original_offset')}"
        )
        table.add_row(
            str(letter.partition),
            str(letter.offset),
            letter.header("ce_id") or "—",
            letter.header("ce_type") or "—",
            origin,
            letter.header("dlq_attempts"),
            letter.header("dlq_error")[:120],
        )
    console.print(table)
    console.print(f"{len(letters)} dead-lettered event(s)")


@app.command("replay")
def replay_letters(
    event_id: Annotated[
        list[str] | None,
        typer.Option("--event-id", help="Replay only these event ids (ce_id); repeatable."),
    ] = None,
    all_letters: Annotated[
        bool, typer.Option("--all", help="Replay every dead-lettered event.")
    ] = False,
) -> None:
    """Send dead-lettered events back to their original topic (after the cause is fixed)."""
    event_id = event_id or []
    if not event_id and not all_letters:
        console.print("[red]say which:[/red] --event-id ID (repeatable) or --all")
        raise typer.Exit(2)
    settings = load_environment().settings
    letters = asyncio.run(read_all(settings))
    chosen = letters if all_letters else [x for x in letters if x.header("ce_id") in event_id]
    missing = set(event_id) - {x.header("ce_id") for x in chosen}
    if missing:
        console.print(f"[red]not in the dead-letter topic:[/red] {', '.join(sorted(missing))}")
        raise typer.Exit(1)
    count = asyncio.run(replay(settings, chosen))
    console.print(f"replayed {count} event(s) to their original topics")

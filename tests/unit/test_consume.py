"""The consume loop's failure handling, with a batch handler of its own: poison records are
isolated at once, transient failures wait and retry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError

from leadpipe.shared.consume import ConsumerHealth, apply_batch
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.records import Record


@dataclass(frozen=True)
class Rec:
    offset: int
    value: bytes | None
    topic: str = "lead.events.v1"
    partition: int = 0
    key: bytes | None = b"k"
    headers: tuple[tuple[str, bytes], ...] = ()


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        self.sqlstate = sqlstate


@dataclass
class Handler:
    """Applies a batch unless it holds a poison or garbled record; the database can be made
    to fail (transiently) for the first ``outages`` calls."""

    outages: int = 0
    calls: list[list[int]] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)

    async def __call__(self, records: Sequence[Record]) -> None:
        self.calls.append([r.offset for r in records])
        if self.outages:
            self.outages -= 1
            raise DBAPIError("INSERT", None, PgError("08006"))  # connection failure
        if any(r.value == b"garbled" for r in records):
            raise UndecodableRecord("not JSON")
        if any(r.value == b"poison" for r in records):
            raise ValueError("handler bug")
        self.applied.extend(r.offset for r in records)


@dataclass
class Letters:
    sent: list[tuple[int, str, int]] = field(default_factory=list)

    async def send(self, record: Record, error: str, attempts: int) -> None:
        self.sent.append((record.offset, error, attempts))


@dataclass
class Waits:
    seconds: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def test_a_healthy_event_behind_poison_ones_waits_for_no_retry() -> None:
    records = [Rec(i, b"poison") for i in range(10)] + [Rec(10, b"{}")]
    handler, letters, waits = Handler(), Letters(), Waits()
    await apply_batch(records, handler, ConsumerHealth(), letters, max_attempts=2, sleep=waits)
    assert handler.applied == [10]
    assert waits.seconds == []  # no back-off: waiting cannot cure a handler bug
    assert [(offset, attempts) for offset, _, attempts in letters.sent] == [
        (i, 2) for i in range(10)
    ]
    assert all(error == "ValueError: handler bug" for _, error, _ in letters.sent)
    # Each poison record is tried twice alone, after splits that reach it: far fewer calls
    # than retrying the whole batch and then every record with back-off.
    assert sum(1 for call in handler.calls if call == [10]) == 1
    assert len(handler.calls) <= 2 * len(records) + 10


async def test_one_poison_record_in_a_large_batch_is_found_by_splitting() -> None:
    records = [Rec(i, b"poison" if i == 317 else b"{}") for i in range(500)]
    handler, letters = Handler(), Letters()
    await apply_batch(records, handler, ConsumerHealth(), letters, sleep=Waits())
    assert handler.applied == [i for i in range(500) if i != 317]  # in order
    assert [offset for offset, _, _ in letters.sent] == [317]
    assert len(handler.calls) < 40


async def test_an_undecodable_record_is_dead_lettered_after_one_attempt() -> None:
    records = [Rec(0, b"{}"), Rec(1, b"garbled"), Rec(2, b"{}")]
    handler, letters = Handler(), Letters()
    await apply_batch(records, handler, ConsumerHealth(), letters, max_attempts=5, sleep=Waits())
    assert letters.sent == [(1, "undecodable: not JSON", 1)]
    assert handler.applied == [0, 2]


async def test_a_transient_failure_retries_the_whole_batch_with_back_off() -> None:
    records = [Rec(i, b"{}") for i in range(4)]
    handler, letters, waits = Handler(outages=3), Letters(), Waits()
    await apply_batch(records, handler, ConsumerHealth(), letters, max_attempts=2, sleep=waits)
    assert handler.calls == [[0, 1, 2, 3]] * 4
    assert handler.applied == [0, 1, 2, 3]
    assert letters.sent == []
    assert len(waits.seconds) == 3
    assert waits.seconds[0] < waits.seconds[2]


async def test_a_transient_failure_while_isolating_poison_is_still_retried() -> None:
    records = [Rec(0, b"{}"), Rec(1, b"poison")]
    handler, letters, waits = Handler(), Letters(), Waits()

    async def flaky(batch: Sequence[Record]) -> None:
        if len(handler.calls) == 2:  # the outage starts as the batch is being split
            handler.outages = 1
        await handler(batch)

    await apply_batch(records, flaky, ConsumerHealth(), letters, max_attempts=2, sleep=waits)
    assert handler.applied == [0]
    assert [(offset, attempts) for offset, _, attempts in letters.sent] == [(1, 2)]
    assert len(waits.seconds) == 1

"""A failed statement's values (an email) reach neither the logs nor the dead-letter headers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from leadpipe.shared.consume import ConsumerHealth, apply_batch
from leadpipe.shared.dead_letters import failure_text
from leadpipe.shared.records import Record

pytestmark = pytest.mark.integration

EMAIL = "private.person@example.com"


@dataclass(frozen=True)
class Rec:
    offset: int = 7
    value: bytes | None = b"{}"
    topic: str = "lead.events.v1"
    partition: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Letters:
    errors: list[str] = field(default_factory=list)

    async def send(self, record: Record, error: str, attempts: int) -> None:
        self.errors.append(error)


FAILING = [
    # PostgreSQL refuses the value: SQLAlchemy's message would list the parameters.
    ("SELECT CAST(:value AS integer)", {"value": EMAIL}),
    # asyncpg refuses to encode it and names it in its own message.
    ("SELECT :value::int", {"value": EMAIL}),
    # PostgreSQL's DETAIL line names a conflicting key.
    (
        "WITH t(e) AS (VALUES (:value)) SELECT 1 FROM t GROUP BY e HAVING CAST(e AS date) IS NULL",
        {"value": EMAIL},
    ),
]


@pytest.mark.parametrize(("statement", "values"), FAILING)
async def test_a_failed_statement_keeps_its_values_out_of_logs_and_dead_letters(
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    statement: str,
    values: dict[str, str],
) -> None:
    async def handler(records: Sequence[Record]) -> None:
        async with engine.connect() as connection:
            await connection.execute(text(statement), values)

    letters = Letters()
    with caplog.at_level(logging.DEBUG):
        await apply_batch([Rec()], handler, ConsumerHealth(), letters, max_attempts=1)
    assert len(letters.errors) == 1
    assert EMAIL not in letters.errors[0]
    assert all(EMAIL not in record.getMessage() for record in caplog.records)
    assert all(EMAIL not in str(record.__dict__) for record in caplog.records)


async def test_a_unique_violation_is_described_without_the_key(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("CREATE TEMPORARY TABLE people (email text PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO people VALUES (:e)"), {"e": EMAIL})
        with pytest.raises(DBAPIError) as failed:
            await connection.execute(text("INSERT INTO people VALUES (:e)"), {"e": EMAIL})
    assert EMAIL not in str(failed.value)  # the engine hides parameters
    described = failure_text(failed.value)
    assert described.startswith("IntegrityError[23505]: duplicate key value")
    assert EMAIL not in described

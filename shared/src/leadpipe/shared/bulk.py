"""Set-based statements on the session's own asyncpg connection: one statement per table and
batch instead of one per row, inside the session's transaction. Scoring and routing write
their batches this way.

Rows only ever added go in by ``COPY``; upserts and updates take one array per column through
``unnest``. JSON travels as text and is cast in the statement (the connection's jsonb codec
would encode it a second time)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


def table_of(mapped: type[DeclarativeBase]) -> Table:
    """The table behind a mapped class, typed as the Table it is (``__table__`` is typed as
    any FromClause)."""
    table = mapped.__table__
    assert isinstance(table, Table)
    return table


class Connection:
    """The asyncpg connection under a session. Its errors reach the consume loop as
    SQLAlchemy's, as the ORM's would, so that a deadlock or a lost connection is retried as
    transient instead of dead-lettering the batch."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    @classmethod
    async def of(cls, session: AsyncSession) -> Connection:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy sends BEGIN with the session's first statement, not at session.begin().
            await connection.exec_driver_sql("SELECT 1")
        assert driver.is_in_transaction(), "the session must be inside session.begin()"
        return cls(driver)

    async def execute(self, statement: str, *arguments: object) -> None:
        with _translated(statement):
            await self._driver.execute(statement, *arguments)

    async def fetch(self, statement: str, *arguments: object) -> list[Any]:
        with _translated(statement):
            return list(await self._driver.fetch(statement, *arguments))

    async def fetchval(self, statement: str, *arguments: object) -> Any:
        with _translated(statement):
            return await self._driver.fetchval(statement, *arguments)

    def cursor(self, statement: str, *arguments: object, prefetch: int) -> Any:
        """Rows streamed as they are iterated (``async for``), ``prefetch`` at a time."""
        return self._driver.cursor(statement, *arguments, prefetch=prefetch)

    async def copy(
        self, table: Table, names: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        """Append ``rows`` (values in the order of ``names``; JSON as text) to ``table``."""
        if not rows:
            return
        with _translated(f"COPY {table.fullname}"):
            await self._driver.copy_records_to_table(
                table.name, schema_name=table.schema, columns=list(names), records=rows
            )


@contextmanager
def _translated(statement: str) -> Iterator[None]:
    try:
        yield
    except asyncpg.PostgresError as exc:
        # DBAPIError carries the SQLSTATE (``orig.sqlstate``) the consume loop classifies.
        raise DBAPIError(statement, None, exc) from exc
    except asyncpg.InterfaceError as exc:
        raise InterfaceError(statement, None, exc) from exc


def columns_of(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """Rows turned into one list per column: the arrays an ``unnest`` statement takes."""
    return [list(column) for column in zip(*rows, strict=True)]

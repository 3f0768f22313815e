"""Set-based statements on the session's own asyncpg connection: one statement per table and
batch instead of one per row, inside the session's transaction. Scoring and routing write
their batches this way.

Rows only ever added go in by ``COPY`` (PostgreSQL inserts them a page at a time); upserts and
updates take one array per column through ``unnest``. Either costs one round trip and one
execution, where an executemany costs one execution per row and the ORM a Python object per
row. JSON travels as text and is cast in the statement (the connection's jsonb codec would
encode it a second time). The statements are built from the tables' own metadata, so that a
column added to an ORM cannot be forgotten in them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import JSON

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


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


def _column(table: Table, name: str) -> Column[Any]:
    return table.c[name]


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _array(column: Column[Any], position: int) -> str:
    # JSON travels as text and is cast in the statement: the connection's own jsonb codec
    # would encode it a second time.
    element = "TEXT" if _is_json(column) else column.type.compile(dialect=_DIALECT)
    return f"${position}::{element}[]"


def _value(column: Column[Any], alias: str) -> str:
    cast = "::JSONB" if _is_json(column) else ""
    return f"{alias}.{column.name}{cast}"


def _unnest(table: Table, names: Sequence[str], alias: str, first: int = 1) -> str:
    arrays = ", ".join(
        _array(_column(table, name), position) for position, name in enumerate(names, first)
    )
    return f"unnest({arrays}) AS {alias}({', '.join(names)})"


def insert_rows(table: Table, names: Sequence[str], tail: str = "") -> str:
    """``INSERT`` of one row per array position; the arguments are one array per name."""
    values = ", ".join(_value(_column(table, name), "r") for name in names)
    return (
        f"INSERT INTO {table.fullname} ({', '.join(names)}) "
        f"SELECT {values} FROM {_unnest(table, names, 'r')} {tail}"
    ).strip()


def update_rows(table: Table, key: str, names: Sequence[str]) -> str:
    """``UPDATE`` of the rows whose ``key`` is in the first array, setting ``names`` from the
    arrays that follow."""
    assignments = ", ".join(f"{name} = {_value(_column(table, name), 'r')}" for name in names)
    return (
        f"UPDATE {table.fullname} AS t SET {assignments} "
        f"FROM {_unnest(table, (key, *names), 'r')} WHERE t.{key} = r.{key}"
    )


def select_columns(table: Table, names: Sequence[str]) -> str:
    """A select list with JSON columns as text, for decoding with orjson."""
    return ", ".join(
        f"{name}::TEXT AS {name}" if _is_json(_column(table, name)) else name for name in names
    )

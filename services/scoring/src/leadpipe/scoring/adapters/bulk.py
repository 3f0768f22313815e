"""Set-based statements over whole batches, built for scoring's tables: one statement per
table, not one per row. They run on ``leadpipe.shared.bulk.Connection``.

The consumer writes thousands of rows per batch. Rows only ever added go in by ``COPY``
(PostgreSQL inserts them a page at a time); upserts and updates take one array per column
through ``unnest``. Either costs one round trip and one execution, where an executemany costs
one execution per row and the ORM a Python object per row. Statements are built from the
tables' own metadata, so a column added in ``orm.py`` cannot be forgotten here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import JSON

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


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

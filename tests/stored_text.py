"""Where a person's data still sits in the services' PostgreSQL schemas, for the erasure tests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def columns_holding(
    sessions: async_sessionmaker[AsyncSession], needle: str, schemas: Sequence[str]
) -> list[str]:
    """Every column of ``schemas`` whose value, as text, contains ``needle``."""
    found = []
    async with sessions() as session:
        columns = (
            await session.execute(
                text(
                    "SELECT table_schema, table_name, column_name, data_type"
                    " FROM information_schema.columns"
                    " WHERE table_schema = ANY(:schemas)"
                ),
                {"schemas": list(schemas)},
            )
        ).all()
        for schema, table, column, data_type in columns:
            # escape, unlike a conversion from UTF-8, reads any bytes.
            value = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            hits = await session.scalar(
                text(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {value} ILIKE :needle'),
                {"needle": f"%{needle}%"},
            )
            if hits:
                found.append(f"{schema}.{table}.{column}")
    return found

"""Input checks every route of scoring's and routing's APIs shares, made before anything
reaches the database: PostgreSQL stores no NUL character in text and no unpaired surrogate,
and only instants whose conversion to UTC stays within datetime's range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import AfterValidator

from leadpipe.shared.problems import Problem

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

NUL_REASON = "must not contain a NUL character"
UNENCODABLE_REASON = "must be valid Unicode text (no unpaired surrogates)"


def text_problem(value: str) -> str | None:
    """Why PostgreSQL would refuse ``value`` as text, or None."""
    if "\x00" in value:
        return NUL_REASON
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return UNENCODABLE_REASON
    return None


def bounded_instant(value: datetime) -> datetime:
    """An instant with a time zone, from 1970 up to (not including) year 9000. Compared, not
    converted: converting 9999-12-31T23:00-05:00 to UTC would overflow."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone offset")
    if not EARLIEST <= value < LATEST:
        raise ValueError("must lie between 1970-01-01 and 9000-01-01 (UTC)")
    return value


Instant = Annotated[datetime, AfterValidator(bounded_instant)]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON document (keys too), with its dotted path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            yield inner, key
            yield from _strings(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}" if path else str(index))


async def refuse_unstorable_text(request: Request) -> None:
    """A route dependency: 422 naming each path parameter, query parameter or JSON body field
    that holds text PostgreSQL cannot store."""
    found: list[tuple[str, str]] = [
        *request.path_params.items(),
        *request.query_params.multi_items(),
    ]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None  # FastAPI's own validation refuses it, naming the body
        found.extend(_strings(body, ""))
    errors = [
        {"field": field, "reason": reason}
        for field, value in found
        if isinstance(value, str) and (reason := text_problem(value)) is not None
    ]
    if errors:
        first, *more = errors
        raise Problem(422, first["field"], first["reason"], more=more)

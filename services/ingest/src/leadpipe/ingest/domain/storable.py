"""What every consumer can store and use: the limits ingest holds an event to before it
answers 202. An event accepted here and then refused by scoring's PostgreSQL would be retried
and dead-lettered, never applied, while the sender believes it arrived.

- Text: PostgreSQL's text and jsonb refuse the NUL character, and a lone surrogate is no
  Unicode at all (it cannot be encoded as UTF-8), in values and in object keys alike.
- Numbers: integers within signed 64 bits (PostgreSQL's bigint, and what JSON readers
  outside Python read exactly); the head-count traits scoring keeps in an integer column
  (``company_size``, ``employees``) within its 32 bits.
- Ids and names: at most :data:`MAX_ID_LENGTH` characters, well inside the 2704 bytes a
  PostgreSQL btree index row can hold (a character is at most 4 bytes in UTF-8).
- Time: an event dated before 1970 is refused; one dated more than :data:`FUTURE_LEEWAY`
  after its arrival is recorded at its arrival, the sender's time kept in the event as
  :data:`CLAMPED_FROM`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from leadpipe.ingest.domain.refusals import FieldError, Malformed
from leadpipe.shared.events import InboundEvent

MAX_ID_LENGTH = 255
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
# Traits scoring parses as whole numbers into an INTEGER column (scoring's domain/lead.py).
COUNT_TRAITS = ("company_size", "employees")
FUTURE_LEEWAY = timedelta(minutes=5)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# The event's own field naming the sender's time when it was replaced by the arrival time.
CLAMPED_FROM = "clock_clamped_from"

NUL = "contains a NUL character, which cannot be stored"
SURROGATE = "contains a lone surrogate, which is not valid Unicode"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN_KEY = 40
# In orjson's output a NUL is always this escape, and an integer beyond 64 bits has at least
# 19 digits: a body without either needs no closer look (digits in strings match too; the
# walk that follows then decides).
# (A byte translation and a substring search: a regular expression took as long as the walk.)
_ESCAPED_NUL = b"\\u0000"
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE
    return None


def _shown(key: str) -> str:
    """A key as a field name in an error: what cannot be stored escaped, and not too long."""
    safe = key.replace("\x00", "\\u0000")
    safe = _SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", safe)
    return safe if len(safe) <= _SHOWN_KEY else safe[:_SHOWN_KEY] + "…"


def _problem(value: Any) -> tuple[str, str] | None:
    """The first thing in ``value`` a consumer cannot store: (its path below ``value``, why).
    The path is built only on the way back from a problem: nearly every event has none."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is str and (reason := _text_problem(key)) is not None:
                return f".{_shown(key)}", f"has a key that {reason}"
            found = _problem(item)
            if found is not None:
                return f".{_shown(str(key))}{found[0]}", found[1]
        return None
    if kind is list:
        for index, item in enumerate(value):
            found = _problem(item)
            if found is not None:
                return f"[{index}]{found[0]}", found[1]
        return None
    if kind is str:
        reason = _text_problem(value)
    elif kind is int:
        # (A float that is not finite is no problem: serialised, it is null.)
        reason = None if INT64[0] <= value <= INT64[1] else "is beyond the 64-bit integer range"
    else:
        return None
    return None if reason is None else ("", reason)


def _joined(where: str, path: str) -> str:
    if not where:
        return path.lstrip(".") or "body"
    return where.rstrip(".") + path if path else where.rstrip(".")


def storable_json(value: object, where: str = "") -> bytes:
    """``value`` (parsed JSON, or form fields) as JSON, refused when a string, key or number
    in it could not be stored, naming the field. ``where`` prefixes field names as the
    callers' do (``batch[3].``), ``""`` for a whole body.

    Serialising first is the quick test (much cheaper than walking every value in Python);
    the walk runs only when the JSON shows a NUL, a long run of digits, or cannot be made."""
    try:
        serialised = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):  # a lone surrogate, an integer beyond 64 bits
        serialised = None
    if (
        serialised is not None
        and _ESCAPED_NUL not in serialised
        and _LONG_DIGITS not in serialised.translate(_DIGITS_AS_ZERO)
    ):
        return serialised
    found = _problem(value)
    if found is not None:
        path, reason = found
        raise FieldError(_joined(where, path), reason)
    if serialised is None:
        raise Malformed(_joined(where, ""), "is not JSON")
    return serialised


def check_id(value: str | None, field: str) -> None:
    if value is not None and len(value) > MAX_ID_LENGTH:
        raise FieldError(field, f"is longer than {MAX_ID_LENGTH} characters")


def check_counts(fields: Mapping[str, Any], where: str = "") -> None:
    """Refuses a head count scoring would read as a whole number too large for its column.
    Read as scoring reads it: text or number, spaces around allowed; what is no whole number
    scoring ignores, and so does this."""
    for name in COUNT_TRAITS:
        value = fields.get(name)
        if value is None or isinstance(value, dict | list | bool):
            continue
        try:
            count = int(str(value).strip())
        except ValueError:
            continue
        if not INT32[0] <= count <= INT32[1]:
            raise FieldError(f"{where}{name}", f"must be a whole number up to {INT32[1]}")


def within_window(event: InboundEvent, field: str) -> InboundEvent:
    """The event with its time inside the window: before 1970 it is refused (``field`` names
    the sender's time); more than :data:`FUTURE_LEEWAY` after arrival it is recorded at its
    arrival, with the sender's time in :data:`CLAMPED_FROM`. A time far ahead would keep a
    lead's engagement from ever decaying."""
    at = event.occurred_at
    if at < EARLIEST:
        raise FieldError(field, "is before 1970-01-01")
    if at > event.received_at + FUTURE_LEEWAY:
        return event.model_copy(
            update={"occurred_at": event.received_at, CLAMPED_FROM: at.isoformat()}
        )
    return event

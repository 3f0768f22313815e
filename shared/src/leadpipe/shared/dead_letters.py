"""Poison events: records that cannot be decoded, or whose handler keeps failing, are set aside
on the dead-letter topic so that their partition keeps flowing.

Transient failures (the database or Kafka unreachable, a deadlock) are never dead-lettered:
they are retried until they pass, because every record would fail the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_never, wait_random_exponential

from leadpipe.shared.records import Record

log = logging.getLogger(__name__)

HEADER_PREFIX = "dlq_"
# SQLSTATE classes worth retrying: connection exceptions, insufficient resources, operator
# intervention (a restarting server), and serialization failures / deadlocks.
TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57", "40")


class UndecodableRecord(Exception):
    """A record that is not an event of the expected type; retrying cannot help."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failure is the infrastructure's, not the event's."""
    if isinstance(exc, OSError | TimeoutError | KafkaError | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = _sqlstate(exc)
        return sqlstate is not None and sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES)
    return False


def _sqlstate(exc: DBAPIError) -> str | None:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return sqlstate if isinstance(sqlstate, str) else None


def failure_text(exc: BaseException) -> str:
    """Why a handler failed, for the dead-letter headers: without the values of a database
    statement. SQLAlchemy's message lists the statement's parameters, PostgreSQL's DETAIL line
    a conflicting key, and both PostgreSQL and asyncpg put a value they refuse after a colon
    ("invalid input syntax for type date: "…"", "invalid input for query argument $1: '…'"):
    only the first line up to its first colon is kept."""
    if isinstance(exc, DBAPIError):
        cause = exc.orig if exc.orig is not None else exc
        first_line = (str(cause).strip().splitlines() or [""])[0]
        # SQLAlchemy's asyncpg adapter prefixes the driver's class: "<class '…'>: message".
        message = first_line.rpartition(">: ")[2].partition(": ")[0]
        return f"{failure_kind(exc)}: {message}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def failure_kind(exc: BaseException) -> str:
    """The failure's class (and SQLSTATE), for log lines, which never carry event data."""
    if isinstance(exc, DBAPIError):
        sqlstate = _sqlstate(exc)
        return f"{type(exc).__name__}[{sqlstate}]" if sqlstate else type(exc).__name__
    return type(exc).__name__


def dead_letter_headers(
    record: Record, error: str, attempts: int, now: datetime
) -> list[tuple[str, bytes]]:
    """The record's own headers plus why and where it failed."""
    kept = [(name, value) for name, value in record.headers if not name.startswith(HEADER_PREFIX)]
    return [
        *kept,
        ("dlq_error", error[:2000].encode()),
        ("dlq_original_topic", record.topic.encode()),
        ("dlq_original_partition", str(record.partition).encode()),
        ("dlq_original_offset", str(record.offset).encode()),
        ("dlq_attempts", str(attempts).encode()),
        ("dlq_failed_at", now.isoformat().encode()),
    ]


def original_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """A dead letter's headers as they were before it was set aside (for replay)."""
    return [(name, value) for name, value in headers if not name.startswith(HEADER_PREFIX)]


class DeadLetterQueue:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self.topic = topic

    async def send(self, record: Record, error: str, attempts: int) -> None:
        """Returns once Kafka holds the dead letter: only then may the offset move past it."""
        headers = dead_letter_headers(record, error, attempts, datetime.now(UTC))
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(KafkaError),
            wait=wait_random_exponential(multiplier=0.2, max=10.0),
            stop=stop_never,
            reraise=True,
        ):
            with attempt:
                await self._producer.send_and_wait(
                    self.topic, value=record.value, key=record.key, headers=headers
                )
        log.error(
            "event dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "attempts": attempts,
                "error": error.partition(":")[0],
            },
        )

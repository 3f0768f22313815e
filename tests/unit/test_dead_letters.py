from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError, IntegrityError

from leadpipe.shared.dead_letters import dead_letter_headers, is_transient, original_headers


@dataclass(frozen=True)
class Letter:
    topic: str = "lead.events.v1"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"k"
    value: bytes | None = b"{}"
    headers: tuple[tuple[str, bytes], ...] = (("ce_id", b"e1"), ("dlq_error", b"old"))


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        self.sqlstate = sqlstate


def test_headers_say_where_and_why_and_replace_an_earlier_failure() -> None:
    headers = dict(dead_letter_headers(Letter(), "boom", 3, datetime(2026, 1, 1, tzinfo=UTC)))
    assert headers["dlq_error"] == b"boom"
    assert headers["dlq_original_topic"] == b"lead.events.v1"
    assert (headers["dlq_original_partition"], headers["dlq_original_offset"]) == (b"2", b"41")
    assert headers["dlq_attempts"] == b"3"
    assert headers["ce_id"] == b"e1"


def test_replay_restores_the_original_headers() -> None:
    letter = dead_letter_headers(Letter(), "boom", 1, datetime(2026, 1, 1, tzinfo=UTC))
    assert original_headers(letter) == [("ce_id", b"e1")]


def test_infrastructure_failures_are_transient_and_bugs_are_not() -> None:
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert is_transient(DBAPIError("SELECT 1", None, PgError("40P01")))  # deadlock
    assert is_transient(DBAPIError("SELECT 1", None, PgError("57P01")))  # admin shutdown
    assert not is_transient(IntegrityError("INSERT", None, PgError("23505")))
    assert not is_transient(ValueError("bad data"))


def test_a_consumer_with_waiting_records_and_no_progress_is_stuck() -> None:
    from time import monotonic

    from leadpipe.shared.consume import ConsumerHealth

    health = ConsumerHealth()
    assert not health.stuck(lag=10)
    health.last_progress = monotonic() - 120
    assert health.stuck(lag=10)
    assert not health.stuck(lag=0)

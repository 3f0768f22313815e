import logging
import sys

from leadpipe.shared.logs import RedactAccessLog


def test_access_lines_lose_the_client_ip_and_the_query() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.9:5123", "GET", "/v1/leads?email=max%40example.com", "1.1", 200),
        None,
    )
    assert RedactAccessLog().filter(record)
    line = record.getMessage()
    assert line == '- - "GET /v1/leads HTTP/1.1" 200'


class PgError(Exception):
    sqlstate = "22007"


def test_a_logged_database_error_keeps_its_trace_but_not_the_refused_value() -> None:
    from pythonjsonlogger.json import JsonFormatter
    from sqlalchemy.exc import DBAPIError

    from leadpipe.shared.logs import RedactDatabaseErrors

    email = "max@example.com"
    refused = f'invalid input syntax for type date: "{email}"'
    try:
        raise DBAPIError("SELECT $1::date", (email,), PgError(refused))
    except DBAPIError:
        record = logging.getLogger("test").makeRecord(
            "test", logging.ERROR, __file__, 1, "look-up failed", (), sys.exc_info()
        )
    assert RedactDatabaseErrors().filter(record)
    line = JsonFormatter("%(message)s").format(record)
    assert email not in line
    assert "DBAPIError[22007]: invalid input syntax for type date" in line
    assert "test_logs.py" in line  # the traceback's frames stay

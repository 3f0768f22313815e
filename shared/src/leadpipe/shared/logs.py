"""JSON logs on stderr. Log records carry ids and counts, never personal data."""

from __future__ import annotations

import logging
import sys
import traceback

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.exc import DBAPIError

from leadpipe.shared.dead_letters import failure_text


class RedactAccessLog(logging.Filter):
    """uvicorn's access lines name the client's IP and the full URL, whose query may hold an
    email (``/v1/leads?email=…``): keep the method, path and status only."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, full_path, http_version, status = args
            path = str(full_path).split("?", 1)[0]
            record.args = ("-", method, path, http_version, status)
        return True


class RedactDatabaseErrors(logging.Filter):
    """A logged database exception keeps its traceback but not its text: PostgreSQL's and
    asyncpg's messages quote the values they refused (an email), and SQLAlchemy's name the
    statement."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, DBAPIError):
            frames = "".join(traceback.format_tb(exc.__traceback__))
            record.exc_text = f"Traceback (most recent call last):\n{frames}{failure_text(exc)}"
            record.exc_info = None
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactDatabaseErrors())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").addFilter(RedactAccessLog())
    # aiokafka logs every transient connection failure at ERROR; keep them, but quieter.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))

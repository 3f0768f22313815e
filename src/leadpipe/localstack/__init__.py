"""A local Kafka and PostgreSQL for development and tests, run as plain processes (no Docker)."""

from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.processes import free_port
from leadpipe.localstack.reporting import ComponentStatus, Log
from leadpipe.localstack.stack import LocalStack

__all__ = ["ComponentStatus", "LocalStack", "LocalStackError", "Log", "free_port"]

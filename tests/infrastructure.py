"""Real Kafka and PostgreSQL for the integration and end-to-end tiers.

Chosen in this order: services named by LEADPIPE_KAFKA_BOOTSTRAP and LEADPIPE_DATABASE_URL;
containers when a Docker engine answers; otherwise the project's own local stack in a fresh
directory on free ports, so that a developer's running `leadpipe up` stack is never touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from leadpipe.localstack.processes import free_port
from leadpipe.localstack.stack import LocalStack

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:16"


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    database_url: str
    topic_prefix: str
    how: str


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextmanager
def _containers() -> Iterator[tuple[str, str]]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
        PostgresContainer(
            POSTGRES_IMAGE,
            username="leadpipe",
            password="leadpipe",
            dbname="leadpipe",
            driver="asyncpg",
        ) as postgres,
    ):
        yield kafka.get_bootstrap_server(), postgres.get_connection_url()


@contextmanager
def local_stack(log: list[str]) -> Iterator[LocalStack]:
    """A throwaway local stack on free ports, removed afterwards."""
    # Not under pytest's 0700 tmp dirs: PostgreSQL runs as its own OS user and must reach it.
    root = Path(tempfile.mkdtemp(prefix="leadpipe-test-stack-"))
    root.chmod(0o755)
    ports = {free_port() for _ in range(6)}
    kafka_port, controller_port, postgres_port = sorted(ports)[:3]
    stack = LocalStack(
        root=root,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        postgres_port=postgres_port,
        durable=False,
    )
    try:
        stack.up(log.append)
        yield stack
    finally:
        stack.down(log.append)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def infrastructure() -> Iterator[Infrastructure]:
    prefix = f"test-{secrets.token_hex(3)}."
    kafka_env = os.environ.get("LEADPIPE_KAFKA_BOOTSTRAP")
    database_env = os.environ.get("LEADPIPE_DATABASE_URL")
    with ExitStack() as stack:
        if kafka_env and database_env:
            yield Infrastructure(kafka_env, database_env, prefix, "environment")
            return
        if _docker_engine_answers():
            kafka, database = stack.enter_context(_containers())
            yield Infrastructure(kafka, database, prefix, "testcontainers")
            return
        local = stack.enter_context(local_stack([]))
        yield Infrastructure(local.kafka_bootstrap, local.database_url, prefix, "local stack")

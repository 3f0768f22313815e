"""The local stack runs a real Kafka and PostgreSQL that leadpipe's clients can use."""

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from leadpipe.localstack import ComponentStatus, LocalStack, LocalStackError, free_port

pytestmark = pytest.mark.integration


def _fresh_stack(root: Path) -> LocalStack:
    # Never the default ports: a developer's own stack may be running on 9092 and 5432.
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    kafka, controller, postgres = sorted(ports)
    return LocalStack(
        root,
        kafka_port=kafka,
        kafka_controller_port=controller,
        postgres_port=postgres,
        durable=False,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pids(stack: LocalStack) -> dict[str, int | None]:
    return {component.name: component.pid for component in stack.status()}


def _postgres_status(stack: LocalStack) -> ComponentStatus:
    return next(component for component in stack.status() if component.name == "postgres")


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # tmp_path lives below pytest's 0700 /tmp/pytest-of-<user>: the stack must cope with that.
    local = _fresh_stack(tmp_path_factory.mktemp("localstack"))
    try:
        local.up(print)
        yield local
    finally:
        local.down(print)


async def test_kafka_delivers_a_produced_message_to_a_consumer(stack: LocalStack) -> None:
    topic = f"localstack-{uuid.uuid4().hex}"
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"lead-created", key=b"lead-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.kafka_bootstrap,
        group_id=f"group-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"lead-1", b"lead-created")


async def test_postgres_accepts_the_leadpipe_login(stack: LocalStack) -> None:
    engine = create_async_engine(stack.database_url)
    try:
        async with engine.begin() as connection:
            row = (await connection.execute(text("SELECT current_user, current_database()"))).one()
            await connection.execute(text("CREATE TABLE IF NOT EXISTS probe (id int PRIMARY KEY)"))
    finally:
        await engine.dispose()
    assert tuple(row) == ("leadpipe", "leadpipe")


async def test_postgres_rejects_a_wrong_password(stack: LocalStack) -> None:
    engine = create_async_engine(stack.database_url.replace(":leadpipe@", ":wrong@"))
    try:
        with pytest.raises(DBAPIError, match="password authentication failed"):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()


async def test_logs_and_kafka_data_are_readable_by_their_owner_only(stack: LocalStack) -> None:
    # Something to store: a topic with a record, so that Kafka writes segment files.
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(f"modes-{uuid.uuid4().hex}", b"max@example.com")
    finally:
        await producer.stop()
    private = [stack.root / "logs" / "postgres.log", stack.root / "logs" / "kafka"]
    for top in (stack.root / "logs" / "kafka", stack.root / "kafka" / "data"):
        private += top.rglob("*")
    assert any(path.name.endswith(".log") for path in private)  # segments, server.log
    loose = {
        str(path): oct(path.stat().st_mode & 0o777)
        for path in private
        if path.stat().st_mode & 0o077
    }
    assert loose == {}


def test_second_up_leaves_the_running_processes_alone(stack: LocalStack) -> None:
    before = _pids(stack)
    lines: list[str] = []

    stack.up(lines.append)

    assert _pids(stack) == before
    assert all(component.running for component in stack.status())
    assert lines == [
        f"kafka: already running (pid {before['kafka']}) on 127.0.0.1:{stack.kafka_port}",
        f"postgres: already running (pid {before['postgres']}) on 127.0.0.1:{stack.postgres_port}",
    ]


def test_up_restarts_a_crashed_component_and_down_stops_everything(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    local = _fresh_stack(tmp_path_factory.mktemp("lifecycle"))
    try:
        local.up(print)
        first = _pids(local)
        crashed = first["postgres"]
        assert crashed is not None
        os.kill(crashed, signal.SIGKILL)
        # PostgreSQL's own children notice the postmaster's death and exit on their own.
        _wait_until(lambda: not _postgres_status(local).running)
        status = {component.name: component for component in local.status()}
        assert not status["postgres"].running
        assert "stale pid file" in status["postgres"].detail

        local.up(print)
        second = _pids(local)
        assert second["kafka"] == first["kafka"]
        assert second["postgres"] not in (None, crashed)
    finally:
        local.down(print)

    assert not any(component.running for component in local.status())
    assert not any(_alive(pid) for pid in second.values() if pid is not None)
    for port in (local.kafka_port, local.kafka_controller_port, local.postgres_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_up_refuses_ports_taken_by_something_else(tmp_path: Path) -> None:
    local = _fresh_stack(tmp_path / "stack")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", local.postgres_port))
        squatter.listen()
        with pytest.raises(LocalStackError, match=str(local.postgres_port)):
            local.up(print)
    assert not any(component.running for component in local.status())


def test_down_never_signals_an_unrelated_process_that_reused_a_recorded_pid(
    tmp_path: Path,
) -> None:
    local = _fresh_stack(tmp_path / "stack")
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = tmp_path / "stack" / "run" / "kafka.pid"
        pid_file.parent.mkdir(parents=True)
        # As after a reboot: the pid is alive, but the start time is not the one recorded.
        pid_file.write_text(f"{bystander.pid}\n1\n")

        local.down(print)

        assert bystander.poll() is None
        assert not pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_part_named_by_the_environment_is_not_started(tmp_path: Path) -> None:
    """With LEADPIPE_KAFKA_BOOTSTRAP set, `leadpipe up` starts PostgreSQL only."""
    full = _fresh_stack(tmp_path / "stack")
    postgres_only = LocalStack(
        full.root,
        kafka_port=full.kafka_port,
        kafka_controller_port=full.kafka_controller_port,
        postgres_port=full.postgres_port,
        durable=False,
        with_kafka=False,
    )
    try:
        postgres_only.up(lambda _: None)
        assert [part.name for part in postgres_only.status()] == ["postgres"]
        assert _postgres_status(postgres_only).running
        assert not any(part.running for part in full.status() if part.name == "kafka")
    finally:
        postgres_only.down(lambda _: None)

"""The three leadpipe services as background processes of ``leadpipe up``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from leadpipe.cli.config import Environment
from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.processes import log_tail, running_pid, start_detached, stop
from leadpipe.localstack.repo import repo_root
from leadpipe.localstack.reporting import ComponentStatus


@dataclass(frozen=True)
class Service:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"leadpipe.{self.name}.main"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def services(env: Environment) -> list[Service]:
    s = env.settings
    return [
        Service("scoring", s.scoring_port),
        Service("routing", s.routing_port),
        Service("ingest", s.ingest_port),
    ]


def _ready(service: Service) -> bool:
    try:
        return httpx.get(f"{service.url}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_services(
    env: Environment, log: Callable[[str], None], *, timeout_s: float = 90.0
) -> None:
    """Start each service that is not running yet and wait until all are ready."""
    for service in services(env):
        pid_file = env.run_dir / f"{service.name}.pid"
        if running_pid(pid_file) is not None:
            log(f"{service.name}: already running on port {service.port}")
            continue
        log(f"{service.name}: starting on port {service.port}…")
        start_detached(
            [sys.executable, "-m", service.module],
            pid_file=pid_file,
            log_file=env.logs_dir / f"{service.name}.log",
            cwd=repo_root(),
            env=env.service_env(),
        )
    deadline = time.monotonic() + timeout_s
    for service in services(env):
        while not _ready(service):
            pid_file = env.run_dir / f"{service.name}.pid"
            log_file = env.logs_dir / f"{service.name}.log"
            if running_pid(pid_file) is None:
                raise LocalStackError(
                    f"{service.name} exited; the end of {log_file}:\n{log_tail(log_file)}"
                )
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"{service.name} not ready after {timeout_s:.0f} s; see {log_file}"
                )
            time.sleep(0.3)
        log(f"{service.name}: ready at {service.url}")


def stop_services(env: Environment, log: Callable[[str], None]) -> None:
    for service in reversed(services(env)):
        pid_file = env.run_dir / f"{service.name}.pid"
        if running_pid(pid_file) is None:
            continue
        log(f"{service.name}: stopping…")
        stop(pid_file)


def service_status(env: Environment) -> list[ComponentStatus]:
    result = []
    for service in services(env):
        pid = running_pid(env.run_dir / f"{service.name}.pid")
        ready = pid is not None and _ready(service)
        detail = "ready" if ready else "starting or unhealthy" if pid else "stopped"
        result.append(ComponentStatus(service.name, service.port, pid is not None, pid, detail))
    return result

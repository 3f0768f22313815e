"""The services under test as processes, started like ``tests/e2e`` starts them, and what the
kernel says about them: resident memory now and at its peak, CPU time used."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from leadpipe.localstack.processes import free_port
from leadpipe.localstack.repo import repo_root
from leadpipe.shared.settings import Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServiceFailed(RuntimeError):
    pass


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise ServiceFailed(f"no {key} in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_queue_seconds(pid: int) -> float:
    """Time the process's threads were runnable but waiting for a CPU (schedstat): on a machine
    shared with other work, this tells CPU starvation from the process's own slowness."""
    waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # a thread that ended meanwhile
    return waited / 1e9


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path
    idle_rss_kib: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        return _status_kib(self.popen.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        """The kernel's high-water mark of resident memory (VmHWM): no sampling can miss it."""
        return _status_kib(self.popen.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.popen.pid)

    def run_queue_seconds(self) -> float:
        return run_queue_seconds(self.popen.pid)

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ServiceFailed(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    self.idle_rss_kib = self.rss_kib()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ServiceFailed(f"{self.name} not ready in {timeout_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class ProcessGroup:
    """Processes started together and stopped together (in reverse order)."""

    logs_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str], port: int) -> Process:
        log = self.logs_dir / f"{name}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                list(args),
                cwd=repo_root(),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, port, popen, log)
        self.processes[name] = process
        return process

    def start_services(self, settings: Settings, names: Sequence[str]) -> dict[str, Process]:
        """Start leadpipe services (``python -m leadpipe.<name>.main``) on free ports."""
        started = {}
        ports = {name: free_port() for name in names}
        # Every service knows every port: scoring fetches data keys from ingest.
        env = service_env(
            settings, {f"LEADPIPE_{n.upper()}_PORT": str(p) for n, p in ports.items()}
        )
        for name, port in ports.items():
            started[name] = self.start(
                name, [sys.executable, "-m", f"leadpipe.{name}.main"], env, port
            )
        for process in started.values():
            process.wait_ready()
        return started

    def start_bare_asgi(self, kafka: tuple[str, str] | None = None) -> Process:
        """The bare ASGI app (``bench/bare_asgi.py``); with ``kafka`` (bootstrap, topic) the
        one that sends each post's body there before answering, as ``bare-asgi-kafka``."""
        port = free_port()
        name, extra = ("bare-asgi", []) if kafka is None else ("bare-asgi-kafka", list(kafka))
        command = [sys.executable, "-m", "bench.bare_asgi", str(port), *extra]
        process = self.start(name, command, os.environ, port)
        process.wait_ready()
        return process

    def stop(self, name: str) -> None:
        self.processes.pop(name).stop()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


def ensure_pseudonym_key() -> None:
    """The services, and the scoring apps and readers of record keys in this process, share
    one pseudonym key: one made for the run unless the environment names one."""
    if "LEADPIPE_PSEUDONYM_KEY" not in os.environ and "LEADPIPE_SECRETS_KEY" not in os.environ:
        os.environ["LEADPIPE_PSEUDONYM_KEY"] = secrets.token_hex(32)


def service_env(settings: Settings, extra: Mapping[str, str]) -> dict[str, str]:
    ensure_pseudonym_key()
    env = dict(os.environ)
    env.update(
        {
            "LEADPIPE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "LEADPIPE_DATABASE_URL": settings.database_url,
            "LEADPIPE_TOPIC_PREFIX": settings.topic_prefix,
            "LEADPIPE_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "LEADPIPE_SOURCE_RATE_PER_S": str(settings.source_rate_per_s),
            "LEADPIPE_SOURCE_RATE_BURST": str(settings.source_rate_burst),
            **extra,
        }
    )
    return env


async def run_loadgen(spec: dict[str, Any], work_dir: Path, label: str) -> dict[str, Any]:
    """Run the load generator as its own process and return what it measured."""
    spec_path = work_dir / f"{label}.spec.json"
    out_path = work_dir / f"{label}.out.json"
    spec_path.write_bytes(orjson.dumps(spec))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        str(spec_path),
        str(out_path),
        cwd=repo_root(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed ({label}):\n{stderr.decode()[-3000:]}")
    result: dict[str, Any] = orjson.loads(out_path.read_bytes())
    return result

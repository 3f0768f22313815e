"""leadpipe's services as real OS processes, for the end-to-end and chaos tiers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from leadpipe.localstack.processes import free_port
from leadpipe.localstack.repo import repo_root
from leadpipe.shared.settings import Settings

SERVICES = ("scoring", "routing", "ingest")


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"leadpipe.{self.name}.main"],
                cwd=repo_root(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready in {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, the way a crash looks."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:]


def service_processes(settings: Settings, logs_dir: Path) -> dict[str, ServiceProcess]:
    """One process per service on free ports, configured for ``settings``' Kafka, database
    and topic prefix. Started by the caller."""
    ports = {name: free_port() for name in SERVICES}
    env = dict(os.environ)
    env.update(
        {
            "LEADPIPE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "LEADPIPE_DATABASE_URL": settings.database_url,
            "LEADPIPE_TOPIC_PREFIX": settings.topic_prefix,
            **{f"LEADPIPE_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
    )
    return {
        name: ServiceProcess(name, ports[name], env, logs_dir / f"{name}.log") for name in SERVICES
    }

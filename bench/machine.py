"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import asyncpg

from leadpipe.localstack.repo import repo_root


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo_root(), capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def kafka_version_pinned() -> str:
    pom = (repo_root() / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    start = pom.find("<kafka.version>")
    end = pom.find("</kafka.version>")
    return pom[start + len("<kafka.version>") : end] if start >= 0 and end > start else "unknown"


async def postgres_facts(dsn: str) -> dict[str, str]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            "version": str(await connection.fetchval("SHOW server_version")),
            "fsync": str(await connection.fetchval("SHOW fsync")),
            "synchronous_commit": str(await connection.fetchval("SHOW synchronous_commit")),
        }
    finally:
        await connection.close()


def describe(*, kafka_version: str, postgres: dict[str, str], stack: str) -> dict[str, Any]:
    dirty = _git("status", "--porcelain")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka": kafka_version,
        "postgres": postgres,
        "stack": stack,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(dirty) if dirty != "unknown" else None,
        "load_average_at_start": load_average(),
    }

"""docker-compose.yml is not run by the suite (no Docker engine here), so its safety
properties are checked as data: nothing published beyond loopback by default, no default
password."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from leadpipe.localstack.repo import repo_root

LOOPBACK_DEFAULT = re.compile(r"^\$\{LEADPIPE_BIND_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$")
REQUIRED_VARIABLE = re.compile(r"\$\{LEADPIPE_POSTGRES_PASSWORD:\?[^}]+\}")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Path(repo_root(), "docker-compose.yml").read_text())
    return loaded


def test_every_published_port_binds_to_loopback_unless_told_otherwise() -> None:
    services = _compose()["services"]
    published = {
        name: port for name, service in services.items() for port in service.get("ports", [])
    }
    assert set(published) >= {"kafka", "postgres", "ingest", "scoring", "routing"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert LOOPBACK_DEFAULT.match(port), f"{name} publishes {port} on every interface"


def test_postgres_password_comes_from_the_environment() -> None:
    services = _compose()["services"]
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert REQUIRED_VARIABLE.fullmatch(password)
    url = services["migrate"]["environment"]["LEADPIPE_DATABASE_URL"]
    assert REQUIRED_VARIABLE.search(url)
    assert ":leadpipe@" not in url

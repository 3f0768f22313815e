from pathlib import Path

from leadpipe.localstack.errors import LocalStackError


def repo_root() -> Path:
    """The leadpipe checkout this module runs from: the uv workspace root.

    Falls back to the nearest pyproject.toml above this file. Works for the editable install
    the repo uses; a wheel installed elsewhere has no checkout and gets a clear error.
    """
    here = Path(__file__).resolve()
    projects = [d for d in here.parents if (d / "pyproject.toml").is_file()]
    for directory in projects:
        if "[tool.uv.workspace]" in (directory / "pyproject.toml").read_text(encoding="utf-8"):
            return directory
    if projects:
        return projects[0]
    raise LocalStackError(
        f"cannot find the leadpipe checkout: no pyproject.toml above {here}; "
        "the local stack needs the repo (deploy/local/kafka) and an editable install"
    )


def kafka_deploy_dir() -> Path:
    """Holds pom.xml (which Kafka jars to fetch) and log4j2.properties."""
    return repo_root() / "deploy" / "local" / "kafka"


def default_cache_dir() -> Path:
    return repo_root() / ".leadpipe" / "cache"

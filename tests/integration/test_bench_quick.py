"""``leadpipe bench`` in quick mode runs end to end and writes a well-formed table.

No figure is asserted: the numbers depend on the machine. What a user relies on is checked:
every figure has its row beside a baseline, the machine is described, and the run cleans up
the database it created."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import Any

import asyncpg
import orjson
import pytest

from leadpipe.localstack.repo import repo_root
from leadpipe.shared.settings import Settings

pytestmark = pytest.mark.integration

EXPECTED_FIGURES = {
    "ingest.single_event",
    "ingest.single_event.floor",
    "ingest.concurrent_posts",
    "ingest.batched",
    "rss.ingest",
    "scoring.events",
    "scoring.events.same_rows",
    "scoring.events.forms",
    "scoring.events.forms.same_rows",
    "routing.assignments",
    "e2e.latency.50",
    "e2e.latency.200",
    "e2e.highest_sustained",
    "rss.scoring",
    "rss.routing",
    "whatif.replay",
}
COLUMNS = ["figure", "leadpipe", "baseline", "ratio", "target"]


@pytest.fixture(scope="module")
def quick_run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench-results")
    env = dict(os.environ)
    env["LEADPIPE_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
    env["LEADPIPE_DATABASE_URL"] = settings.database_url
    done = subprocess.run(
        [sys.executable, "-m", "leadpipe.cli.main", "bench", "--out", str(out)],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = sorted(out.glob("bench-quick-*.json"))
    assert len(written) == 1, list(out.iterdir())
    return {
        "stdout": done.stdout,
        "json": orjson.loads(written[0].read_bytes()),
        "markdown": written[0].with_suffix(".md").read_text(encoding="utf-8"),
    }


@pytest.mark.timeout(600)
def test_quick_run_writes_every_figure_beside_its_baseline(quick_run: dict[str, Any]) -> None:
    document = quick_run["json"]
    assert document["mode"] == "quick"
    assert document["columns"] == COLUMNS
    figures = {figure["id"]: figure for figure in document["figures"]}
    assert set(figures) == EXPECTED_FIGURES
    for figure in figures.values():
        assert all(figure["table"][column].strip() for column in COLUMNS), figure["id"]
        for side in ("leadpipe", "baseline", "ratio"):
            value = figure[side]
            assert value is None or (math.isfinite(value) and value > 0), (figure["id"], side)
        if figure["leadpipe"] is not None and figure["baseline"] is not None:
            assert figure["ratio"] == pytest.approx(figure["leadpipe"] / figure["baseline"])
    for throughput in (
        "ingest.single_event",
        "ingest.batched",
        "scoring.events",
        "routing.assignments",
        "whatif.replay",
    ):
        assert len(figures[throughput]["samples"]["leadpipe"]) == 3, "medians of 3 runs"
        assert figures[throughput]["baseline"] is not None


@pytest.mark.timeout(600)
def test_quick_run_replays_the_history_the_scoring_phase_stored(quick_run: dict[str, Any]) -> None:
    replay = next(f for f in quick_run["json"]["figures"] if f["id"] == "whatif.replay")
    assert replay["leadpipe"] is not None
    assert "stored events" in replay["figure"]
    assert not replay["figure"].startswith("what-if replay events/s (0 stored")


@pytest.mark.timeout(600)
def test_quick_run_describes_the_machine_and_prints_the_table(quick_run: dict[str, Any]) -> None:
    machine = quick_run["json"]["machine"]
    assert machine["cpu_count"] == os.cpu_count()
    assert {"cpu_model", "memory_gib", "python", "kafka", "postgres", "git_commit"} <= set(machine)
    assert machine["postgres"]["version"]
    assert len(machine["git_commit"]) == 40
    assert "ingest single-event requests/s" in quick_run["stdout"]
    assert quick_run["markdown"].startswith("| figure | leadpipe | baseline | ratio | target |")
    table = [line for line in quick_run["markdown"].splitlines() if line.startswith("|")]
    assert len(table) == len(EXPECTED_FIGURES) + 2  # header and separator
    assert all(line.count(" | ") == len(COLUMNS) - 1 for line in table if "---" not in line)


@pytest.mark.timeout(600)
async def test_quick_run_drops_the_database_it_created(
    quick_run: dict[str, Any], settings: Settings
) -> None:
    connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        left = await connection.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'leadpipe_bench_%'"
        )
    finally:
        await connection.close()
    assert left == 0

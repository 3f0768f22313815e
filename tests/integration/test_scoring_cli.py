"""``leadpipe rules simulate | activate`` against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from leadpipe.cli.main import app
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.rules.loader import default_rules_text
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import delivered
from tests.integration.test_scoring_consumer import Commits, demo

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPIPE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEADPIPE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("COLUMNS", "250")


async def test_simulate_reports_stage_changes_and_activate_switches_the_version(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    cli_env: None,
    tmp_path: Path,
) -> None:
    email = f"cli.{uuid.uuid4().hex[:8]}@firma.example"
    await InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())(
        [delivered(demo(email))]
    )
    document = yaml.safe_load(default_rules_text())
    version = f"cli-{uuid.uuid4().hex[:6]}"
    document["version"] = version
    document["lifecycle"]["sql"]["min_qualification"] = 100
    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    default = tmp_path / "default.yaml"
    default.write_text(default_rules_text(), encoding="utf-8")
    # The report's tables are laid out for the terminal's width: a fixed one, whatever the
    # test runner's.
    runner = CliRunner(env={"COLUMNS": "200"})

    simulated = await asyncio.to_thread(runner.invoke, app, ["rules", "simulate", str(draft)])
    assert simulated.exit_code == 0, simulated.output
    assert f"Draft {version}: " in simulated.output
    assert "sql → mql" in simulated.output
    assert email in simulated.output
    try:
        activated = await asyncio.to_thread(runner.invoke, app, ["rules", "activate", str(draft)])
        assert activated.exit_code == 0, activated.output
        assert f"rules version {version} is now active" in activated.output
    finally:
        restored = await asyncio.to_thread(runner.invoke, app, ["rules", "activate", str(default)])
        assert restored.exit_code == 0, restored.output

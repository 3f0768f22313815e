"""``leadpipe bench`` refuses what it cannot run before starting anything."""

from __future__ import annotations

from typer.testing import CliRunner

from leadpipe.cli.main import app


def test_an_unknown_phase_is_named_with_the_choices() -> None:
    result = CliRunner().invoke(app, ["bench", "--only", "ingest", "--only", "replay"])
    assert result.exit_code == 2
    assert "unknown phase(s) replay" in result.output
    assert "ingest, scoring, routing, e2e, scale" in result.output

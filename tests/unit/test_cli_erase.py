"""``leadpipe erase --file``: the file's addresses, and one way of naming whom to erase."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from leadpipe.cli.erase import read_emails
from leadpipe.cli.main import app


def test_a_file_gives_one_address_a_line_each_once(tmp_path: Path) -> None:
    path = tmp_path / "erase.txt"
    path.write_text(
        "# requests of March\nerika@muster.example\n\n  max@muster.example \n"
        "erika@muster.example\n",
        encoding="utf-8",
    )
    assert read_emails(path) == ["erika@muster.example", "max@muster.example"]


def test_an_address_and_a_file_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "erase.txt"
    path.write_text("erika@muster.example\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["erase", "max@muster.example", "--file", str(path)])
    assert result.exit_code == 2
    assert "one email address, or a file" in result.output
    assert CliRunner().invoke(app, ["erase"]).exit_code == 2

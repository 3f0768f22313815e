from pathlib import Path

from typer.testing import CliRunner

from leadpipe.cli.main import app

DEFAULT = Path(__file__).parents[3] / "rules" / "default.yaml"


def test_rules_validate_accepts_the_default_file() -> None:
    result = CliRunner().invoke(app, ["rules", "validate", str(DEFAULT)])
    assert result.exit_code == 0, result.output
    assert "is valid: version dach-b2b-2026.1, BANT" in result.output


def test_rules_validate_prints_file_path_and_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEFAULT.read_text("utf-8").replace("hot: 30", "hot: lots"), encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: temperature.hot: 'lots' is not of type 'integer'" in result.output


def test_rules_validate_does_not_break_the_path_on_a_narrow_terminal() -> None:
    result = CliRunner().invoke(app, ["rules", "validate", str(DEFAULT)], env={"COLUMNS": "30"})
    assert result.exit_code == 0, result.output
    assert f"{DEFAULT} is valid: version dach-b2b-2026.1, BANT" in result.output

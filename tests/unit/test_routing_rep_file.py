"""Reading reps files for ``leadpipe reps import``: CSV and YAML, errors with row, field, reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpipe.cli.main import app
from leadpipe.routing.entrypoints.rep_file import RepFileError, RowError, parse_reps

CSV = """name,email,role,territories,segments,languages,capacity,weight,time_zone,working_hours,holiday_calendar,out_of_office
Anna Schmidt,Anna@Sales.example,ae,DE;AT;CH,mid-market;enterprise,de;en,20,2,Europe/Berlin,mon-fri 09:00-17:00,DE-BY,2026-08-03..2026-08-14
Joe Miller,joe@sales.example,bdr,US,,en,,,America/New_York,,US-NY,
"""

YAML = """
reps:
  - name: Anna Schmidt
    email: anna@sales.example
    role: ae
    territories: [DE, AT]
    working_hours: "mon-thu 08:00-16:00; fri 08:00-12:00"
    time_zone: Europe/Berlin
    holiday_calendar: DE-BY
    out_of_office: ["2026-12-24..2027-01-01"]
  - name: Lena Fischer
    email: lena@sales.example
    role: bdr
"""


def test_csv_reps_with_every_attribute() -> None:
    anna, joe = parse_reps(CSV, "reps.csv")
    assert anna.email == "Anna@sales.example"
    assert (anna.territories, anna.segments, anna.languages) == (
        ["DE", "AT", "CH"],
        ["mid-market", "enterprise"],
        ["de", "en"],
    )
    assert (anna.capacity, anna.weight, anna.holiday_calendar) == (20, 2, "DE-BY")
    assert anna.out_of_office == ["2026-08-03..2026-08-14"]
    assert (joe.capacity, joe.weight, joe.working_hours, joe.segments) == (None, 1, None, [])


def test_yaml_reps() -> None:
    anna, lena = parse_reps(YAML, "team.yaml")
    assert anna.working_hours == "mon-thu 08:00-16:00; fri 08:00-12:00"
    assert lena.role == "bdr" and lena.time_zone == "UTC"


def test_every_error_names_row_field_and_reason() -> None:
    text = (
        "name,email,role,capacity,time_zone,working_hours,holiday_calendar\n"
        "Anna,anna@sales.example,ae,-1,Europe/Berlin,,\n"
        "Jonas,not-an-email,cto,,Mars/Olympus,mon-fri 17:00-09:00,DE-XX\n"
        "Anna again,ANNA@sales.example,ae,,,,\n"
    )
    with pytest.raises(RepFileError) as raised:
        parse_reps(text, "reps.csv")
    errors = {(e.row, e.field): e.reason for e in raised.value.errors}
    assert errors[(2, "capacity")] == "Input should be greater than or equal to 0"
    assert "not a valid email" in errors[(3, "email")]
    assert errors[(3, "role")] == "Input should be 'bdr' or 'ae'"
    assert (
        errors[(3, "time_zone")] == "'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)"
    )
    assert errors[(3, "working_hours")].endswith(
        "ends before it starts (overnight hours are not supported)"
    )
    assert errors[(3, "holiday_calendar")].startswith("'XX' is not a state of DE")
    assert set(errors) == {
        (2, "capacity"),
        (3, "email"),
        (3, "role"),
        (3, "time_zone"),
        (3, "working_hours"),
        (3, "holiday_calendar"),
    }


def test_duplicate_email_points_at_the_first_row() -> None:
    with pytest.raises(RepFileError) as raised:
        parse_reps("name,email,role\nA,a@x.example,ae\nB,A@X.example,ae\n", "reps.csv")
    assert raised.value.errors == [RowError(3, "email", "a@x.example is already in row 2")]


def test_unknown_column_and_unknown_yaml_field_are_refused() -> None:
    with pytest.raises(RepFileError, match="row 1, field timezone: unknown column"):
        parse_reps("name,email,role,timezone\n", "reps.csv")
    with pytest.raises(RepFileError, match="row 1, field timezone: Extra inputs are not permitted"):
        parse_reps("- {name: A, email: a@x.example, role: ae, timezone: UTC}\n", "reps.yml")
    with pytest.raises(RepFileError, match=r"must end in \.csv, \.yaml or \.yml"):
        parse_reps("", "reps.xlsx")


def test_cli_dry_run_checks_the_file(tmp_path: Path) -> None:
    good = tmp_path / "reps.csv"
    good.write_text(CSV)
    result = CliRunner().invoke(app, ["reps", "import", str(good), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 rep(s), all valid" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: A, email: a@x.example, role: boss}\n")
    result = CliRunner().invoke(app, ["reps", "import", str(bad), "--dry-run"])
    assert result.exit_code == 1
    assert "row 1, field role: Input should be 'bdr' or 'ae'" in result.output

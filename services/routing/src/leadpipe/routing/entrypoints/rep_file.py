"""Reading a reps file (CSV or YAML) for ``leadpipe reps import``: every problem is reported
with its row, field and reason, all at once, before anything is sent."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml
from pydantic import ValidationError

from leadpipe.routing.entrypoints.api.errors import reason_of
from leadpipe.routing.entrypoints.api.schemas import RepIn

COLUMNS = tuple(RepIn.model_fields)


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, field {self.field}: {self.reason}"


class RepFileError(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _csv_entries(text: str) -> list[tuple[int, dict[str, Any]]]:
    """Rows are numbered as a spreadsheet shows them: the header is row 1."""
    reader = csv.DictReader(io.StringIO(text))
    unknown = [c for c in reader.fieldnames or [] if c.strip() not in COLUMNS]
    if unknown:
        raise RepFileError(
            [RowError(1, c, f"unknown column (known: {', '.join(COLUMNS)})") for c in unknown]
        )
    return [
        (
            index + 2,
            {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()},
        )
        for index, row in enumerate(reader)
    ]


def _yaml_entries(text: str) -> list[tuple[int, dict[str, Any]]]:
    """A list of reps, or ``{reps: [...]}``; rows are the reps' positions, from 1."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise RepFileError([RowError(line, "(file)", f"not valid YAML: {exc}")]) from exc
    if isinstance(loaded, dict) and "reps" in loaded:
        loaded = loaded["reps"]
    if not isinstance(loaded, list):
        raise RepFileError([RowError(0, "(file)", "expected a list of reps or 'reps: [...]'")])
    entries: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(loaded, start=1):
        if not isinstance(item, dict):
            raise RepFileError([RowError(index, "(row)", "each rep must be a mapping of fields")])
        entries.append((index, {str(k): v for k, v in item.items() if v is not None}))
    return entries


def parse_reps(text: str, filename: str) -> list[RepIn]:
    """The reps in a ``.csv``, ``.yaml`` or ``.yml`` file's text; raises RepFileError."""
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        entries = _csv_entries(text)
    elif suffix in (".yaml", ".yml"):
        entries = _yaml_entries(text)
    else:
        raise RepFileError([RowError(0, "(file)", "must end in .csv, .yaml or .yml")])
    reps: list[RepIn] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for row, fields in entries:
        try:
            rep = RepIn.model_validate(fields)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"]) or "(row)"
                errors.append(RowError(row, field, reason_of(error["msg"])))
            continue
        email = str(rep.email).lower()
        if email in seen:
            errors.append(RowError(row, "email", f"{email} is already in row {seen[email]}"))
            continue
        seen[email] = row
        reps.append(rep)
    if errors:
        raise RepFileError(errors)
    return reps

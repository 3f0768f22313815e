"""The one table every run prints, and the JSON written beside it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

COLUMNS = ("figure", "leadpipe", "baseline", "ratio", "target")


@dataclass
class Figure:
    """One row: leadpipe's figure beside the baseline measured in the same run.

    ``leadpipe`` and ``baseline`` are the medians over the repeats (numbers in ``unit``), or None
    where there is nothing to measure; the ``*_text`` fields are what the table shows."""

    id: str
    figure: str
    unit: str
    leadpipe: float | None
    baseline: float | None
    baseline_name: str
    target: str
    limited_by: str = ""
    leadpipe_text: str = ""
    baseline_text: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.leadpipe is None or self.baseline is None or self.baseline == 0:
            return None
        return self.leadpipe / self.baseline

    def texts(self) -> dict[str, str]:
        ratio = self.ratio
        return {
            "figure": self.figure,
            "leadpipe": self.leadpipe_text or number(self.leadpipe, self.unit),
            "baseline": (self.baseline_text or number(self.baseline, self.unit))
            + (f" ({self.baseline_name})" if self.baseline_name else ""),
            "ratio": f"{ratio:.2f}" if ratio is not None else "n/a",
            "target": self.target,
        }

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["table"] = self.texts()
        return data


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def render(figures: list[Figure], console: Console) -> None:
    table = Table(*COLUMNS, title="leadpipe bench (medians; ratio = leadpipe / baseline)")
    for figure in figures:
        texts = figure.texts()
        table.add_row(*(texts[column] for column in COLUMNS))
    console.print(table)
    console.print("What limits each figure:")
    for figure in figures:
        if figure.limited_by:
            console.print(f"  • {figure.figure}: {figure.limited_by}", highlight=False)


def markdown(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for figure in figures:
        texts = figure.texts()
        lines.append("| " + " | ".join(texts[column] for column in COLUMNS) + " |")
    lines += ["", "What limits each figure:", ""]
    lines += [f"- {f.figure}: {f.limited_by}" for f in figures if f.limited_by]
    return "\n".join(lines) + "\n"


def write(path: Path, header: dict[str, Any], figures: list[Figure]) -> None:
    document = {**header, "columns": list(COLUMNS), "figures": [f.as_json() for f in figures]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    path.with_suffix(".md").write_text(markdown(figures), encoding="utf-8")

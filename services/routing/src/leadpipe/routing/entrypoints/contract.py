"""The published contract of ``lead.routed.v1``: one JSON Schema per CloudEvents type, made from
the wire model in ``leadpipe.shared.events``. ``python -m leadpipe.routing.entrypoints.contract`` writes them
to ``schemas/events/``; a unit test fails when the files and the model disagree."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, get_args

from leadpipe.shared.events import LeadRouted, RoutedKind

SCHEMA_DIR = Path("schemas") / "events"
DESCRIPTIONS = {
    "assigned": "A lead was given to a rep (first assignment, or out of the fallback queue).",
    "reassigned": "A lead was given to another rep after the previous one breached the SLA.",
    "sla_breached": "The rep in `rep` made no first touch by `sla_due_at`; a reassigned, "
    "queued or escalated event for the same lead follows.",
    "queued": "Nobody could take the lead; it waits in the fallback queue (rep is null).",
    "escalated": "The lead's SLA re-assignments were used up: it went to the pool's escalation "
    "target in `rep`, or (rep null) to the fallback queue; no SLA clock runs for it any more.",
}


def routed_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema (draft 2020-12) of the event data, per CloudEvents type."""
    base = LeadRouted.model_json_schema(mode="serialization")
    schemas: dict[str, dict[str, Any]] = {}
    for kind in get_args(RoutedKind):
        ce_type = f"io.leadpipe.lead.{kind}.v1"
        schema = json.loads(json.dumps(base))
        schema["properties"]["kind"] = {"const": kind, "title": "Kind", "type": "string"}
        schemas[f"{ce_type}.json"] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://leadpipe.example/schemas/events/{ce_type}.json",
            "title": ce_type,
            "description": f"{DESCRIPTIONS[kind]} Topic lead.routed.v1, key = lead_key "
            "(a pseudonym of the lead's key, never an email); "
            f"CloudEvents binary mode with ce_type {ce_type}, ce_source /leadpipe/routing. "
            "Consumers must ignore fields they do not know.",
            **{k: v for k, v in schema.items() if k not in ("title", "description")},
        }
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(root: Path) -> list[Path]:
    folder = root / SCHEMA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in routed_schemas().items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()):
        print(path)

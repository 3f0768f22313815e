"""The JSON Schemas in schemas/events/ are the wire model's, and routed events satisfy them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest

from leadpipe.localstack.repo import repo_root
from leadpipe.routing.entrypoints.contract import SCHEMA_DIR, render, routed_schemas
from leadpipe.shared.events import LeadRouted, RepRef, Stage


def test_schema_files_are_up_to_date() -> None:
    folder = repo_root() / SCHEMA_DIR
    expected = routed_schemas()
    assert sorted(p.name for p in folder.glob("io.leadpipe.lead.*.json")) == sorted(expected)
    for name, schema in expected.items():
        assert (folder / name).read_text(encoding="utf-8") == render(schema), (
            f"{name} is stale: run `.venv/bin/python -m leadpipe.routing.entrypoints.contract`"
        )


def _routed(kind: str) -> dict[str, object]:
    event = LeadRouted(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime(2026, 1, 13, 10, tzinfo=UTC),
        kind=kind,
        assignment_id="a1",
        lead_id="l1",
        lead_key="max@kunde.example",
        stage=Stage.SQL,
        rep=RepRef(rep_id="r1", name="Anna", email="anna@sales.example", role="ae"),
        rule="hot DACH",
        reason="round-robin: next after the previous pick in pool dach",
        sla_due_at=datetime(2026, 1, 13, 10, 5, tzinfo=UTC),
        cause_event_id="e1",
        pool="dach",
        strategy="round-robin",
        candidates_considered=2,
        excluded={"r2": "out of office 2026-01-12..2026-01-16"},
    )
    data: dict[str, object] = json.loads(event.model_dump_json())
    return data


@pytest.mark.parametrize("kind", ["assigned", "reassigned", "sla_breached", "queued", "escalated"])
def test_each_event_type_validates_against_its_own_schema_only(kind: str) -> None:
    schemas = {name.split(".")[3]: schema for name, schema in routed_schemas().items()}
    jsonschema.validate(_routed(kind), schemas[kind])
    other = next(k for k in schemas if k != kind)
    with pytest.raises(jsonschema.ValidationError, match="was expected"):
        jsonschema.validate(_routed(kind), schemas[other])

"""The outbox rows of stage moves are exactly what the wire models would give."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from leadpipe.scoring.adapters.stage_events import StageEvents, snapshot_of
from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.scoring.domain.lifecycle import Transition
from leadpipe.shared.envelope import from_record, unwrap, wrap
from leadpipe.shared.events import LeadSnapshot, Stage, StageChanged
from leadpipe.shared.privacy import record_key

FULL = LeadRecord(
    id="lead-1",
    lead_key="erika@musterfirma.example",
    email="erika@musterfirma.example",
    anonymous_id="anon-7",
    stage="mql",
    rules_version="v3",
    source="form:demo-request",
    first_name="Erika",
    last_name="Müller",
    company='Muster "Maschinen" GmbH',
    title="Geschäftsführerin",
    country="DE",
    industry="Maschinenbau",
    company_size=250,
    language="de",
    account_domain="musterfirma.example",
    fit=35,
    engagement=42,
    qualification=25,
    grade="A",
    temperature="hot",
    hand_raiser=True,
)
# A visitor known only by an anonymous id, with values the snapshot does not accept as they are.
SPARSE = LeadRecord(
    id="lead-2",
    lead_key="anon-9",
    email=None,
    anonymous_id="anon-9",
    stage="lead",
    rules_version="v3",
    grade="D",
    temperature="tepid",
)
MOVES = [
    Transition(None, Stage.LEAD, "new lead from form:demo-request"),
    Transition(Stage.LEAD, Stage.MQL, "hand-raiser: demo requested ✓"),
]
TIMES = [
    datetime(2026, 11, 25, 9, 30, 12, 345678, tzinfo=UTC),
    datetime(2026, 11, 25, 9, 30, tzinfo=UTC),  # no microseconds: written without them
]


def test_snapshot_has_the_models_fields_in_its_order() -> None:
    assert list(snapshot_of(SPARSE)) == list(LeadSnapshot.model_fields)


@pytest.mark.parametrize("lead", [FULL, SPARSE], ids=["full", "sparse"])
@pytest.mark.parametrize("move", MOVES, ids=["first", "later"])
@pytest.mark.parametrize("now", TIMES, ids=["micro", "whole"])
def test_row_is_what_the_models_give(lead: LeadRecord, move: Transition, now: datetime) -> None:
    event_id, topic, key, headers_json, payload = StageEvents("lead.stage-changed.v1", now).row(
        lead, snapshot_of(lead), move, "cause-1"
    )
    model = StageChanged(
        event_id=event_id,
        occurred_at=now,
        lead_id=lead.id,
        lead_key=record_key(lead.lead_key),
        from_stage=move.from_stage,
        to_stage=move.to_stage,
        reason=move.reason,
        cause_event_id="cause-1",
        lead=LeadSnapshot.model_validate(snapshot_of(lead)),
    )
    assert payload == model.model_dump_json().encode()
    assert (topic, key) == ("lead.stage-changed.v1", record_key(lead.lead_key))
    assert lead.lead_key not in payload.decode()
    headers = [(name, value.encode()) for name, value in orjson.loads(headers_json)]
    expected = wrap(model, "/leadpipe/scoring").headers()
    # Everything but the trace context, which is new for every event.
    assert headers[:-1] == expected[:-1]
    assert headers[-1][0] == expected[-1][0] == "traceparent"
    assert unwrap(from_record(headers, payload), StageChanged) == model


def test_sparse_lead_snapshot_falls_back_to_no_grade_and_cold() -> None:
    snapshot = snapshot_of(SPARSE)
    assert (snapshot["grade"], snapshot["temperature"]) == (None, "cold")


def test_every_move_gets_its_own_event_id() -> None:
    events = StageEvents("t", TIMES[0])
    ids = {events.row(FULL, snapshot_of(FULL), MOVES[1], "c")[0] for _ in range(50)}
    assert len(ids) == 50

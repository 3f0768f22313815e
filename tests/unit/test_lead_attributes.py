"""The lead's attributes are declared once (LeadSnapshot's fields); every other shape of the
lead follows the declaration."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated

import pytest
from pydantic import Field

from leadpipe.routing.domain.reps import LeadProfile
from leadpipe.routing.domain.rules import MATCHABLE
from leadpipe.routing.service.handlers import KEPT_ON_ERASURE, ROUTED, profile_of
from leadpipe.scoring.adapters.stage_events import SnapshotOf, snapshot_of
from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.shared.events import LeadSnapshot, Stage, StageChanged
from leadpipe.shared.lead_attributes import Use, attribute_names

DECLARED = attribute_names(LeadSnapshot)
RECORD = LeadRecord(
    id="lead-1", lead_key="k", email=None, anonymous_id=None, stage="sql", rules_version="v1"
)


class WithSeniority(LeadSnapshot):
    """The declaration as it would be with one attribute more."""

    seniority: Annotated[str | None, Field(description="Seniority."), Use.ROUTED] = None


def test_every_shape_of_the_lead_exposes_the_declared_attributes() -> None:
    assert list(snapshot_of(RECORD)) == list(DECLARED)
    assert set(DECLARED) <= {f.name for f in fields(LeadRecord)}
    profile = [f.name for f in fields(LeadProfile) if f.name not in ("lead_id", "stage")]
    assert profile == list(attribute_names(LeadSnapshot, Use.ROUTED)) == list(ROUTED)
    assert {"lead_id", "stage"} | set(
        attribute_names(LeadSnapshot, Use.KEPT_ON_ERASURE)
    ) == KEPT_ON_ERASURE
    derived_by_routing = {"segment", "region"}
    assert set(MATCHABLE) - derived_by_routing <= set(ROUTED)


def test_the_snapshot_names_nobody() -> None:
    assert not {"email", "first_name", "last_name", "company", "phone"} & set(DECLARED)
    assert not {"title", "language", "source", "account_domain"} & KEPT_ON_ERASURE


def test_a_declared_attribute_reaches_the_serialiser_and_is_found_missing_elsewhere() -> None:
    record = SimpleNamespace(**{name: getattr(RECORD, name) for name in DECLARED})
    record.seniority = "director"
    snapshot = SnapshotOf(WithSeniority)(record)  # type: ignore[arg-type]
    assert list(snapshot) == list(attribute_names(WithSeniority))
    assert snapshot["seniority"] == "director"
    with pytest.raises(AttributeError):
        SnapshotOf(WithSeniority)(RECORD)
    assert "seniority" in attribute_names(WithSeniority, Use.ROUTED)
    assert "seniority" not in {f.name for f in fields(LeadProfile)}


def test_the_profile_carries_each_routed_attribute_of_the_event() -> None:
    lead = LeadSnapshot(
        country="AT",
        industry="Software",
        company_size=80,
        language="de-AT",
        source="form:demo",
        account_domain="Kunde.Example",
        grade="B",
        temperature="warm",
        hand_raiser=True,
    )
    event = StageChanged(
        event_id="e-1",
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        lead_id="lead-1",
        lead_key="key",
        from_stage=Stage.MQL,
        to_stage=Stage.SQL,
        reason="r",
        cause_event_id="c",
        lead=lead,
    )
    profile = profile_of(event)
    for name in ROUTED:
        expected = getattr(lead, name)
        assert getattr(profile, name) == (
            expected.lower() if name == "account_domain" else expected
        )
    assert (profile.lead_id, profile.stage) == ("lead-1", "sql")

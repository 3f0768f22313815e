"""The bench's generated traffic: reproducible, in the documented proportions, and valid input
for ingest's own event builders."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bench.data import FormPost, TrackingCall, day_of_traffic
from leadpipe.ingest.domain.forms import form_event
from leadpipe.ingest.domain.tracking import call_event


def _kind(item: FormPost | TrackingCall) -> str:
    return "form" if isinstance(item, FormPost) else str(item.call["type"])


def test_a_day_of_traffic_is_the_same_for_the_same_seed() -> None:
    assert day_of_traffic(7, "s", 300) == day_of_traffic(7, "s", 300)
    assert day_of_traffic(7, "s", 300) != day_of_traffic(8, "s", 300)


def test_a_day_of_traffic_is_mostly_page_views_with_a_tenth_of_form_posts() -> None:
    counts = Counter(_kind(item) for item in day_of_traffic(20261125, "mix", 5000))
    assert 0.08 < counts["form"] / 5000 < 0.12
    assert 0.6 < counts["page"] / 5000 < 0.75
    assert 0.15 < counts["track"] / 5000 < 0.25
    assert 0 < counts["identify"] < counts["form"]


def test_every_generated_call_is_one_ingest_accepts() -> None:
    now = datetime.now(UTC)
    known = set()
    for item in day_of_traffic(20261125, "valid", 2000):
        if isinstance(item, FormPost):
            event = form_event(item.form_id, item.fields, source="form:x", received_at=now)
            known.add(event.lead_key)
            continue
        event = call_event(item.call, call_type=None, source="segment:x", received_at=now)
        if item.call["type"] == "identify":
            known.add(event.lead_key)
        elif "userId" in item.call:
            # Known people's tracking lands on the lead their form post or identify made.
            assert event.lead_key in known
        else:
            assert event.lead_key.startswith("anon:")

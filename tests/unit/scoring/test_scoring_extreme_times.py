"""Scoring's domain takes any instant an event may carry, from 1970 to the end of year 9999,
without raising: one event of a far future once made every later event of its lead fail."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from leadpipe.scoring.domain.engagement import engagement_at, falls_below_at
from leadpipe.scoring.domain.lead import LeadState, apply_event
from leadpipe.scoring.domain.recycling import RECYCLE_HORIZON, recycle, recycle_at
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared.events import Stage
from tests.unit.scoring.events import inbound

RULES = default_rules()
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)

instants = st.datetimes(
    min_value=EARLIEST.replace(tzinfo=None),
    max_value=LATEST.replace(tzinfo=None),
    timezones=st.just(UTC),
)


def engaged_cto_at(*times: datetime) -> LeadState:
    """A CTO who becomes an MQL by scores alone, events at the given times."""
    first, second, third, fourth = times
    state = LeadState()
    for event in (
        inbound("identify", at=first, traits={"title": "CTO"}),
        inbound("track", at=second, properties={"event": "Webinar Attended"}),
        inbound("track", at=third, properties={"event": "Chat Started"}),
        inbound("page", at=fourth, properties={"url": "/pricing"}),
    ):
        state = apply_event(state, event, RULES).state
    return state


@given(st.lists(instants, min_size=4, max_size=4), instants)
@example([LATEST] * 4, datetime(2026, 12, 2, tzinfo=UTC))
@example([LATEST] * 4, LATEST)
@example([EARLIEST] * 4, LATEST)
@example([datetime(9000, 1, 1, tzinfo=UTC)] * 4, datetime(8999, 12, 31, tzinfo=UTC))
def test_any_instants_are_scored_and_recycled_without_raising(
    times: list[datetime], now: datetime
) -> None:
    state = engaged_cto_at(*times)
    due = recycle_at(state, RULES, now)
    if due is not None:
        assert due >= now or state.stage != Stage.MQL
        assert due <= RECYCLE_HORIZON
    recycle(state, RULES, now)
    engagement_at(state.engagement, RULES.categories, now)


@given(instants)
def test_the_crossing_is_searched_no_further_than_the_horizon(now: datetime) -> None:
    state = engaged_cto_at(LATEST, LATEST, LATEST, LATEST)
    crossing = falls_below_at(state.engagement, RULES.categories, 15, now)
    assert crossing is None or crossing <= RECYCLE_HORIZON


def test_a_lead_whose_decay_ends_beyond_the_horizon_is_never_due() -> None:
    state = engaged_cto_at(*[datetime(9500, 1, 1, tzinfo=UTC)] * 4)
    assert state.stage == Stage.MQL
    assert recycle_at(state, RULES, datetime(2026, 12, 2, tzinfo=UTC)) is None

"""SLA due times per temperature, in the assigned rep's calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadpipe.routing.domain.calendar import WeeklyHours, WorkCalendar
from leadpipe.routing.domain.sla import SlaPolicy

ASSIGNED = datetime(2026, 4, 3, 13, 0, tzinfo=UTC)  # Good Friday, 15:00 in Berlin
BERLIN = WorkCalendar("Europe/Berlin", WeeklyHours.parse("mon-fri 09:00-17:00"), "DE")


def test_hot_and_warm_run_on_the_clock() -> None:
    policy = SlaPolicy()
    assert policy.due_at("hot", False, ASSIGNED, BERLIN) == ASSIGNED + timedelta(minutes=5)
    assert policy.due_at("warm", False, ASSIGNED, BERLIN) == ASSIGNED + timedelta(hours=1)


def test_hand_raisers_get_the_hot_sla_whatever_their_temperature() -> None:
    assert SlaPolicy().due_at("cold", True, ASSIGNED, BERLIN) == ASSIGNED + timedelta(minutes=5)


def test_cold_is_one_business_day_in_the_reps_calendar() -> None:
    # Easter Monday is a holiday in Germany: due Tuesday 7 April, 15:00 Berlin (summer time).
    due = SlaPolicy().due_at("cold", False, ASSIGNED, BERLIN)
    assert due.astimezone(UTC) == datetime(2026, 4, 7, 13, 0, tzinfo=UTC)


def test_cold_without_a_calendar_is_the_next_day() -> None:
    due = SlaPolicy().due_at("cold", False, ASSIGNED, WorkCalendar())
    assert due == ASSIGNED + timedelta(days=1)


def test_policy_is_configurable() -> None:
    policy = SlaPolicy(hot=timedelta(minutes=2), warm=timedelta(minutes=30), cold_business_days=2)
    assert policy.due_at("hot", False, ASSIGNED, BERLIN) == ASSIGNED + timedelta(minutes=2)
    assert policy.due_at("cold", False, ASSIGNED, BERLIN).date().isoformat() == "2026-04-08"

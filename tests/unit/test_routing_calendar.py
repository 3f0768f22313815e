"""Working hours, public holidays, out-of-office and business days in the rep's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from leadpipe.routing.domain.calendar import (
    CalendarError,
    DateRange,
    WeeklyHours,
    WorkCalendar,
    parse_holiday_calendar,
    parse_time_zone,
)

BERLIN_OFFICE = WorkCalendar(
    time_zone="Europe/Berlin",
    hours=WeeklyHours.parse("mon-fri 09:00-17:00"),
    holiday_country="DE",
    holiday_subdivision="BY",
)


def test_working_hours_are_read_in_the_reps_own_time_zone() -> None:
    # 07:30 UTC on a Tuesday in winter is 08:30 in Berlin: not yet.
    assert "outside working hours" in str(
        BERLIN_OFFICE.unavailable_because(datetime(2026, 1, 13, 7, 30, tzinfo=UTC))
    )
    # 08:30 UTC is 09:30 in Berlin.
    assert BERLIN_OFFICE.unavailable_because(datetime(2026, 1, 13, 8, 30, tzinfo=UTC)) is None
    new_york = WorkCalendar(
        time_zone="America/New_York", hours=WeeklyHours.parse("mon-fri 09:00-17:00")
    )
    # The same moment is 03:30 in New York.
    assert new_york.unavailable_because(datetime(2026, 1, 13, 8, 30, tzinfo=UTC)) is not None


def test_dst_change_moves_the_utc_start_of_the_day() -> None:
    # Berlin switches to summer time on 29 March 2026: 09:00 local is 08:00 UTC before, 07:00 after.
    friday_before = datetime(2026, 3, 27, 7, 30, tzinfo=UTC)
    monday_after = datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert BERLIN_OFFICE.unavailable_because(friday_before) is not None
    assert BERLIN_OFFICE.unavailable_because(monday_after) is None


def test_public_holiday_of_the_reps_state() -> None:
    # 6 January (Epiphany) is a holiday in Bavaria but not in Berlin.
    moment = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    reason = BERLIN_OFFICE.unavailable_because(moment)
    assert reason is not None and reason.startswith("public holiday in DE-BY")
    berlin_state = WorkCalendar(
        time_zone="Europe/Berlin",
        hours=WeeklyHours.parse("mon-fri 09:00-17:00"),
        holiday_country="DE",
        holiday_subdivision="BE",
    )
    assert berlin_state.unavailable_because(moment) is None


def test_holiday_is_judged_by_the_local_date() -> None:
    # 23:30 UTC on 24 Dec is already Christmas Day in Sydney.
    sydney = WorkCalendar(time_zone="Australia/Sydney", holiday_country="AU")
    assert "Christmas" in str(
        sydney.unavailable_because(datetime(2026, 12, 24, 23, 30, tzinfo=UTC))
    )


def test_out_of_office_period_is_inclusive() -> None:
    calendar = WorkCalendar(out_of_office=(DateRange.parse("2026-08-03..2026-08-14"),))
    assert calendar.unavailable_because(datetime(2026, 8, 14, 12, tzinfo=UTC)) == (
        "out of office 2026-08-03..2026-08-14"
    )
    assert calendar.unavailable_because(datetime(2026, 8, 15, 12, tzinfo=UTC)) is None


def test_without_working_hours_a_rep_is_always_available() -> None:
    assert WorkCalendar().unavailable_because(datetime(2026, 1, 4, 3, 0, tzinfo=UTC)) is None


def test_business_day_skips_weekend_and_holiday_keeping_local_time() -> None:
    # Assigned Thursday 31 Dec 2026 15:00 Berlin: Friday is New Year's Day, then the weekend.
    assigned = datetime(2026, 12, 31, 14, 0, tzinfo=UTC)
    due = BERLIN_OFFICE.add_business_days(assigned, 1)
    assert due.date() == date(2027, 1, 4)
    assert due.astimezone(UTC) == datetime(2027, 1, 4, 14, 0, tzinfo=UTC)


def test_business_day_across_dst_keeps_the_wall_clock() -> None:
    # Friday 23 Oct 2026 16:00 in Berlin (summer time) → Monday 26 Oct 16:00 (winter time).
    assigned = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    due = BERLIN_OFFICE.add_business_days(assigned, 1)
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 15, 0, tzinfo=UTC)
    assert due - assigned == timedelta(hours=73)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mon-fri 9-17", "is not like"),
        ("mon-fry 09:00-17:00", "'fry' is not a weekday"),
        ("mon-fri 17:00-09:00", "ends before it starts"),
        ("fri-mon 09:00-17:00", "runs backwards"),
        ("mon-fri 09:00-17:00; fri 10:00-12:00", "fri is given twice"),
        ("mon 25:00-26:00", "not a time of day"),
    ],
)
def test_bad_working_hours_say_why(text: str, reason: str) -> None:
    with pytest.raises(CalendarError, match=reason):
        WeeklyHours.parse(text)


def test_working_hours_round_trip_as_text() -> None:
    text = "mon-thu 08:30-17:00; fri 08:30-14:00"
    hours = WeeklyHours.parse(text)
    assert WeeklyHours.parse(hours.text()) == hours


def test_calendar_names_are_checked() -> None:
    assert parse_holiday_calendar("de-by") == ("DE", "BY")
    assert parse_holiday_calendar("FR") == ("FR", None)
    with pytest.raises(CalendarError, match="not a country"):
        parse_holiday_calendar("XX")
    with pytest.raises(CalendarError, match="not a state of DE"):
        parse_holiday_calendar("DE-ZZ")
    with pytest.raises(CalendarError, match="not an IANA time zone"):
        parse_time_zone("Europe/Atlantis")
    with pytest.raises(CalendarError, match="ends before it starts"):
        DateRange.parse("2026-02-10..2026-02-01")

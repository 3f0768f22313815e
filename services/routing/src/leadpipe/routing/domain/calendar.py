"""A rep's working calendar: weekly hours, public holidays and out-of-office, in the rep's own
time zone. Pure: the moment to check always comes in as an argument."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(
    r"^\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


class CalendarError(ValueError):
    """A working-hours, holiday or out-of-office value that cannot be understood."""


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise CalendarError(f"'{text}' is not a time of day (HH:MM)")
    return time(hours, minutes)


def _clock_text(moment: time) -> str:
    return "24:00" if moment == time.max else f"{moment:%H:%M}"


@dataclass(frozen=True)
class WeeklyHours:
    """Working hours per weekday (0 = Monday); a day that is absent is a day off."""

    days: dict[int, tuple[time, time]]

    @classmethod
    def parse(cls, text: str) -> WeeklyHours:
        """``"mon-fri 09:00-17:00; sat 10:00-13:00"``: day spans with one interval each."""
        days: dict[int, tuple[time, time]] = {}
        for part in (p for p in text.lower().split(";") if p.strip()):
            found = _SPAN.match(part)
            if found is None:
                raise CalendarError(
                    f"'{part.strip()}' is not like 'mon-fri 09:00-17:00' (days, then hours)"
                )
            first, last = found["first"], found["last"] or found["first"]
            for name in (first, last):
                if name not in WEEKDAYS:
                    raise CalendarError(f"'{name}' is not a weekday ({', '.join(WEEKDAYS)})")
            start, end = _clock(found["start"]), _clock(found["end"])
            if start >= end:
                raise CalendarError(
                    f"'{part.strip()}' ends before it starts (overnight hours are not supported)"
                )
            lo, hi = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if hi < lo:
                raise CalendarError(f"'{first}-{last}' runs backwards")
            for day in range(lo, hi + 1):
                if day in days:
                    raise CalendarError(f"{WEEKDAYS[day]} is given twice")
                days[day] = (start, end)
        if not days:
            raise CalendarError("no working days given")
        return cls(days)

    def text(self) -> str:
        """Consecutive days with the same hours are written as one span ("mon-fri …")."""
        spans: list[tuple[int, int, tuple[time, time]]] = []
        for day, hours in sorted(self.days.items()):
            if spans and spans[-1][1] == day - 1 and spans[-1][2] == hours:
                spans[-1] = (spans[-1][0], day, hours)
            else:
                spans.append((day, day, hours))
        return "; ".join(
            f"{WEEKDAYS[lo]}{'' if lo == hi else '-' + WEEKDAYS[hi]} {_clock_text(start)}-"
            f"{_clock_text(end)}"
            for lo, hi, (start, end) in spans
        )

    def covers(self, local: datetime) -> bool:
        span = self.days.get(local.weekday())
        return span is not None and span[0] <= local.time() < span[1]


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of local dates, e.g. a holiday away from work."""

    first: date
    last: date

    @classmethod
    def parse(cls, text: str) -> DateRange:
        """``"2026-12-21..2027-01-04"`` or a single ``"2026-12-24"``."""
        first_text, _, last_text = text.strip().partition("..")
        try:
            first = date.fromisoformat(first_text.strip())
            last = date.fromisoformat(last_text.strip()) if last_text else first
        except ValueError as exc:
            raise CalendarError(
                f"'{text.strip()}' is not a date or 'YYYY-MM-DD..YYYY-MM-DD'"
            ) from exc
        if last < first:
            raise CalendarError(f"'{text.strip()}' ends before it starts")
        return cls(first, last)

    def text(self) -> str:
        return self.first.isoformat() if self.first == self.last else f"{self.first}..{self.last}"

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@lru_cache(maxsize=256)
def _holiday_calendar(country: str, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)


def parse_holiday_calendar(text: str) -> tuple[str, str | None]:
    """``"DE"`` or ``"DE-BY"`` (country, optional state) → a calendar the `holidays` library has."""
    country, _, subdivision = text.strip().upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise CalendarError(f"'{country}' is not a country with a public-holiday calendar")
    if subdivision and subdivision not in supported[country]:
        raise CalendarError(
            f"'{subdivision}' is not a state of {country} (one of {', '.join(supported[country])})"
        )
    return country, subdivision or None


def parse_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"'{name}' is not an IANA time zone (e.g. Europe/Berlin)") from exc


@dataclass(frozen=True)
class WorkCalendar:
    """When a rep works. Without weekly hours the rep is available around the clock (minus
    holidays and out-of-office, when given)."""

    time_zone: str = "UTC"
    hours: WeeklyHours | None = None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    out_of_office: tuple[DateRange, ...] = field(default_factory=tuple)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.time_zone))

    def holiday(self, day: date) -> str | None:
        if self.holiday_country is None:
            return None
        name = _holiday_calendar(self.holiday_country, self.holiday_subdivision).get(day)
        return str(name) if name is not None else None

    def away(self, day: date) -> DateRange | None:
        return next((period for period in self.out_of_office if day in period), None)

    def unavailable_because(self, moment: datetime) -> str | None:
        """Why the rep cannot take a lead at ``moment``; None when they can."""
        local = self.local(moment)
        period = self.away(local.date())
        if period is not None:
            return f"out of office {period.text()}"
        holiday = self.holiday(local.date())
        if holiday is not None:
            return f"public holiday in {self._calendar_name()}: {holiday}"
        if self.hours is not None and not self.hours.covers(local):
            return f"outside working hours ({self.hours.text()}, now {local:%a %H:%M} {self.time_zone})"
        return None

    def is_business_day(self, day: date) -> bool:
        if self.hours is not None and day.weekday() not in self.hours.days:
            return False
        return self.holiday(day) is None and self.away(day) is None

    def add_business_days(self, moment: datetime, days: int) -> datetime:
        """The same local wall-clock time ``days`` business days later. Across a DST change the
        real elapsed time is 23 or 25 hours per day, as a person would expect."""
        local = self.local(moment)
        day, wall, counted = local.date(), local.time(), 0
        for _ in range(3660):
            if counted == days:
                break
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        else:
            raise CalendarError("no business day within ten years: check the calendar")
        zone = ZoneInfo(self.time_zone)
        return datetime.combine(day, wall, tzinfo=zone)

    def _calendar_name(self) -> str:
        if self.holiday_subdivision:
            return f"{self.holiday_country}-{self.holiday_subdivision}"
        return str(self.holiday_country)

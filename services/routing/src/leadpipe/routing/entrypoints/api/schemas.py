"""Request and response models of routing's API. Validation errors name the field and say why."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from leadpipe.routing.domain.calendar import (
    CalendarError,
    DateRange,
    WeeklyHours,
    parse_holiday_calendar,
    parse_time_zone,
)
from leadpipe.routing.domain.regions import Region
from leadpipe.routing.domain.reps import SEGMENTS
from leadpipe.routing.domain.rules import Strategy

Segment = Literal["smb", "mid-market", "enterprise"]
assert set(SEGMENTS) == {"smb", "mid-market", "enterprise"}
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _listed(value: object) -> object:
    """``"DE; AT"`` or ``"DE,AT"`` (a CSV cell) → ``["DE", "AT"]``; lists pass through."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]
    return value


class RepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    role: Literal["bdr", "ae"]
    active: bool = True
    territories: list[str] = Field(
        default_factory=list, description="ISO country codes; empty = every country."
    )
    segments: list[Segment] = Field(
        default_factory=list,
        description="Company-size bands: smb (1-49), mid-market (50-999), enterprise (1000+); "
        "empty = all.",
    )
    languages: list[str] = Field(
        default_factory=list, description="ISO 639 language codes; empty = any language."
    )
    capacity: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Most open leads at once; none = unlimited."
    )
    weight: int = Field(default=1, ge=1, le=1000, description="Share in weighted round-robin.")
    time_zone: str = Field(default="UTC", description="IANA name, e.g. Europe/Berlin.")
    working_hours: str | None = Field(
        default=None,
        description="e.g. 'mon-fri 09:00-17:00; sat 10:00-13:00' in the rep's time zone; "
        "none = available around the clock.",
    )
    holiday_calendar: str | None = Field(
        default=None, description="Public holidays by country or country-state: DE, DE-BY, US-CA."
    )
    out_of_office: list[str] = Field(
        default_factory=list, description="Dates or ranges: 2026-12-24, 2026-08-03..2026-08-14."
    )

    _split = field_validator(
        "territories", "segments", "languages", "out_of_office", mode="before"
    )(_listed)

    @field_validator("territories")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        codes = [code.upper() for code in value]
        for code in codes:
            if not _COUNTRY.fullmatch(code):
                raise ValueError(f"'{code}' is not a two-letter country code")
        return codes

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        codes = [code.lower() for code in value]
        for code in codes:
            if not _LANGUAGE.fullmatch(code):
                raise ValueError(f"'{code}' is not an ISO 639 language code such as 'de'")
        return codes

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            parse_time_zone(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("working_hours")
    @classmethod
    def _working_hours(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return WeeklyHours.parse(value).text()
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("holiday_calendar")
    @classmethod
    def _holiday_calendar(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            country, subdivision = parse_holiday_calendar(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return f"{country}-{subdivision}" if subdivision else country

    @field_validator("out_of_office")
    @classmethod
    def _out_of_office(cls, value: list[str]) -> list[str]:
        try:
            return [DateRange.parse(period).text() for period in value]
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc


class RepOut(BaseModel):
    id: str
    name: str
    email: str
    role: str
    active: bool
    territories: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    capacity: int | None = None
    weight: int = 1
    time_zone: str = "UTC"
    working_hours: str | None = None
    holiday_calendar: str | None = None
    out_of_office: list[str] = Field(default_factory=list)
    open_leads: int = 0


class RepImport(BaseModel):
    reps: list[RepIn]


class ImportResult(BaseModel):
    created: int
    updated: int


class PoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["bdr", "ae"]
    strategy: Strategy = "round-robin"
    members: list[EmailStr] = Field(
        default_factory=list, description="Reps' emails; empty = every active rep of the role."
    )
    match_coverage: bool = Field(
        default=True,
        description="Leave out reps whose territories, segments or languages miss the lead.",
    )
    max_reassignments: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="SLA breaches that re-assign a lead before the next one escalates it; "
        "none = LEADPIPE_ROUTING_MAX_REASSIGNMENTS (2).",
    )
    escalate_to: EmailStr | None = Field(
        default=None,
        description="The rep (e.g. a sales manager) an escalated lead goes to; none = the "
        "fallback queue.",
    )


class PoolOut(PoolIn):
    name: str


class SizeRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Bounded: beyond any company, and within the 32-bit integers the database compares.
    min: int | None = Field(default=None, ge=0, le=100_000_000)
    max: int | None = Field(default=None, ge=0, le=100_000_000)


class ConditionsIn(BaseModel):
    """Every given condition must hold; lists accept any of their values (case-insensitive)."""

    model_config = ConfigDict(extra="forbid")

    country: list[str] | None = None
    industry: list[str] | None = None
    language: list[str] | None = None
    source: list[str] | None = None
    account_domain: list[str] | None = None
    grade: list[Literal["A", "B", "C"]] | None = None
    temperature: list[Literal["cold", "warm", "hot"]] | None = None
    segment: list[Segment] | None = None
    region: list[Region] | None = Field(
        default=None, description="Named country sets, e.g. dach = DE, AT, CH, LI."
    )
    company_size: SizeRange | None = None
    hand_raiser: bool | None = None

    _split = field_validator(
        "country",
        "industry",
        "language",
        "source",
        "account_domain",
        "grade",
        "temperature",
        "segment",
        mode="before",
    )(_listed)

    @field_validator("region", mode="before")
    @classmethod
    def _regions(cls, value: object) -> object:
        listed = _listed(value)
        return [str(v).lower() for v in listed] if isinstance(listed, list) else listed

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    pool: str = Field(min_length=1)
    conditions: ConditionsIn = Field(default_factory=ConditionsIn)


class RulesIn(BaseModel):
    """The whole ordered list: the first rule that matches wins."""

    rules: list[RuleIn]


class AccountOwnerIn(BaseModel):
    email: EmailStr


class AccountOwnerOut(BaseModel):
    account_domain: str
    owner: RepOut


class AssignmentOut(BaseModel):
    id: str
    lead_id: str
    rep: RepOut | None
    kind: str
    status: str
    stage: str
    pool: str
    rule: str
    reason: str
    trace: dict[str, Any]
    sla_due_at: datetime | None
    sla_state: str | None
    contacted_at: datetime | None
    closed_at: datetime | None
    closed_reason: str | None
    created_at: datetime

"""Reps as routing sees them, and what a rep covers (territories, segments, languages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from leadpipe.routing.domain.calendar import WorkCalendar

Role = Literal["bdr", "ae"]

# Company-size bands a rep's segments name (employees, inclusive).
SEGMENTS: dict[str, tuple[int, int | None]] = {
    "smb": (1, 49),
    "mid-market": (50, 999),
    "enterprise": (1000, None),
}


def segment_of(company_size: int | None) -> str | None:
    if company_size is None:
        return None
    for name, (low, high) in SEGMENTS.items():
        if company_size >= low and (high is None or company_size <= high):
            return name
    return None


@dataclass(frozen=True)
class LeadProfile:
    """The lead and account attributes rules and coverage look at."""

    lead_id: str
    stage: str
    country: str | None = None
    industry: str | None = None
    company_size: int | None = None
    language: str | None = None
    source: str | None = None
    account_domain: str | None = None
    grade: str | None = None
    temperature: str = "cold"
    hand_raiser: bool = False

    @property
    def segment(self) -> str | None:
        return segment_of(self.company_size)

    @property
    def language_code(self) -> str | None:
        # "de-AT" is spoken by a rep who lists "de".
        return self.language.split("-")[0].split("_")[0].lower() if self.language else None


@dataclass(frozen=True)
class Rep:
    id: str
    name: str
    email: str
    role: Role
    active: bool = True
    territories: frozenset[str] = field(default_factory=frozenset)
    segments: frozenset[str] = field(default_factory=frozenset)
    languages: frozenset[str] = field(default_factory=frozenset)
    capacity: int | None = None
    weight: int = 1
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    def does_not_cover(self, lead: LeadProfile) -> str | None:
        """Why this rep is not the right person for the lead; None when they are. An empty
        list means "all"; a lead without the attribute is covered by everyone."""
        if self.territories and lead.country and lead.country.upper() not in self.territories:
            return f"territory {lead.country.upper()} not in {', '.join(sorted(self.territories))}"
        segment = lead.segment
        if self.segments and segment and segment not in self.segments:
            return f"segment {segment} not in {', '.join(sorted(self.segments))}"
        language = lead.language_code
        if self.languages and language and language not in self.languages:
            return f"language {language} not in {', '.join(sorted(self.languages))}"
        return None

"""A lead's consent as state: what the person agreed to (on forms) and withdrew (by an inbound
``consent_withdrawn`` event), and whether their tracking calls still count.

The latest word counts: a withdrawal stops scoring of the person's tracking calls until they
give consent again later (a newer form with consent); form posts and sales feedback always
count. Times are the events' own, so a late-arriving older consent does not undo a newer
withdrawal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from leadpipe.shared.events import InboundEvent

WITHDRAWN = "consent_withdrawn"
# Segment-protocol calls; withdrawal stops only these.
TRACKING_CALLS = frozenset({"identify", "track", "page", "screen", "group", "alias"})


@dataclass(frozen=True)
class ConsentRecord:
    """One consent given for a purpose; ``given_at`` is None for a withdrawal of a purpose
    never recorded as given (the withdrawal still counts)."""

    purpose: str
    text_version: str | None
    given_at: datetime | None
    source: str
    withdrawn_at: datetime | None = None
    withdrawn_via: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "purpose": self.purpose,
            "text_version": self.text_version,
            "given_at": self.given_at.isoformat() if self.given_at else None,
            "source": self.source,
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
            "withdrawn_via": self.withdrawn_via,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, object]) -> ConsentRecord:
        def at(name: str) -> datetime | None:
            value = stored.get(name)
            return datetime.fromisoformat(str(value)) if value else None

        text_version, withdrawn_via = stored.get("text_version"), stored.get("withdrawn_via")
        return cls(
            purpose=str(stored["purpose"]),
            text_version=str(text_version) if text_version is not None else None,
            given_at=at("given_at"),
            source=str(stored.get("source") or ""),
            withdrawn_at=at("withdrawn_at"),
            withdrawn_via=str(withdrawn_via) if withdrawn_via is not None else None,
        )


def withdrawal_of(event: InboundEvent) -> tuple[bool, str | None]:
    """Whether ``event`` withdraws consent, and for which purpose (None: every purpose): a
    webhook event named ``consent_withdrawn``, a track call with that event name, or a post
    to the form with that id."""
    name = event.name
    withdraws = name == WITHDRAWN or (
        (name == "track" and event.properties.get("event") == WITHDRAWN)
        or (name == "form_submitted" and event.properties.get("form_id") == WITHDRAWN)
    )
    if not withdraws:
        return False, None
    purpose = event.properties.get("purpose")
    text = str(purpose).strip() if isinstance(purpose, str | int) else ""
    return True, text or None


def consents_after(
    records: tuple[ConsentRecord, ...], event: InboundEvent
) -> tuple[ConsentRecord, ...]:
    """The lead's consent records once ``event`` is applied: a consent it carries is added,
    a withdrawal marks the purpose's records (or all) withdrawn."""
    given = event.consent
    withdraws, purpose = withdrawal_of(event)
    if given is None and not withdraws:
        return records
    after = list(records)
    if given is not None:
        after.append(
            ConsentRecord(given.purpose, given.text_version, given.granted_at, event.source)
        )
    if withdraws:
        at, matched = event.occurred_at, False
        for i, record in enumerate(after):
            if purpose is not None and record.purpose != purpose:
                continue
            matched = True
            if record.withdrawn_at is None:
                after[i] = replace(record, withdrawn_at=at, withdrawn_via=event.source)
        if not matched:
            after.append(
                ConsentRecord(purpose or "all", None, None, event.source, at, event.source)
            )
    return tuple(after)


def tracking_stopped(records: Sequence[ConsentRecord]) -> bool:
    """Whether the person's latest word is a withdrawal: no consent given after it."""
    withdrawn = [r.withdrawn_at for r in records if r.withdrawn_at is not None]
    if not withdrawn:
        return False
    given = [r.given_at for r in records if r.given_at is not None]
    return not given or max(given) <= max(withdrawn)


def ignored_because(records: Sequence[ConsentRecord], event: InboundEvent) -> str | None:
    """Why ``event`` must not be scored; None when it counts."""
    if records and event.name in TRACKING_CALLS and tracking_stopped(records):
        return "tracking call after the person withdrew consent"
    return None

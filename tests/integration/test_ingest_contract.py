"""The contract between ingest and scoring: whatever ingest accepts, scoring stores and applies.

Hypothesis makes request bodies of every kind ingest takes (Segment calls and batches, forms
as JSON and as HTML posts, generic and HubSpot webhooks) out of awkward material: NUL and lone
surrogates, text in every script, integers far beyond 64 bits, times from year 1 to 9999 in
odd offsets, ids of kilobytes, nested objects. Each body goes through ingest's normalisation
(the functions its endpoints call) and then, when accepted, through scoring's real batch
handler into PostgreSQL. Either ingest refuses it with a 4xx, or every event it made is stored
and belongs to a lead that exists: never accepted and then lost.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pydantic import JsonValue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from leadpipe.ingest.domain.forms import form_event, html_fields
from leadpipe.ingest.domain.refusals import Refusal
from leadpipe.ingest.domain.tracking import batch_events, call_event
from leadpipe.ingest.domain.webhooks import generic_event, hubspot_events
from leadpipe.ingest.entrypoints.api.body import parse_form, parse_json
from leadpipe.scoring.adapters.orm import InboundEventRow, LeadRow
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import Commits, delivered

pytestmark = pytest.mark.integration

T = TypeVar("T")


def mostly(usual: st.SearchStrategy[T], odd: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``odd`` one time in eight: an event has many fields, and were each odd half the time,
    nearly every event would be refused and the way into PostgreSQL hardly tried."""
    return st.integers(0, 7).flatmap(lambda n: odd if n == 0 else usual)


NASTY = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\U0001f600", "ß", "\u2028", "\\u0000", "'", '"', "\t", "ǅ"]
)
FINE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
TEXT = mostly(
    FINE_TEXT,
    st.one_of(
        st.tuples(FINE_TEXT, st.sampled_from(["\x00", "\ud800"]), FINE_TEXT).map("".join),
        st.lists(st.one_of(st.characters(), NASTY), max_size=12).map("".join),
        st.integers(0, 9000).map(lambda n: "x" * n),
    ),
)
NUMBERS = mostly(
    st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False)),
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64]),
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=14)),
    ]
)
NOW = datetime.now(UTC)
TIMES = mostly(
    st.datetimes(
        min_value=(NOW - timedelta(days=30)).replace(tzinfo=None),
        max_value=(NOW + timedelta(hours=1)).replace(tzinfo=None),
        timezones=OFFSETS,
    ).map(datetime.isoformat),
    st.one_of(
        st.datetimes(timezones=OFFSETS).map(datetime.isoformat),
        st.sampled_from(
            [
                "0001-01-01T00:00:00+01:00",
                "9999-12-31T23:00:00-05:00",
                "3000-01-01T00:00:00Z",
                "1969-12-31T23:59:59Z",
                "1970-01-01T00:00:00Z",
            ]
        ),
        TEXT,
    ),
)
IDS = mostly(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20),
    st.one_of(TEXT, st.integers(-(2**70), 2**70)),
)
EMAILS = mostly(st.emails(), TEXT)
COUNTS = st.one_of(NUMBERS, NUMBERS.map(str), TEXT)
TRAITS = st.fixed_dictionaries(
    {},
    optional={
        "email": EMAILS,
        "company_size": COUNTS,
        "employees": COUNTS,
        "first_name": TEXT,
        "title": TEXT,
        "revenue": st.one_of(NUMBERS, TEXT),
    },
).flatmap(
    lambda known: st.dictionaries(TEXT, JSON_VALUES, max_size=2).map(
        lambda extra: {**extra, **known}
    )
)
OBJECTS = st.dictionaries(TEXT, JSON_VALUES, max_size=3)
CALLS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["identify", "track", "page", "group", "alias"]),
        "userId": IDS,
        "event": TEXT,
        "timestamp": TIMES,
        "groupId": IDS,
        "previousId": IDS,
    },
    optional={
        "anonymousId": IDS,
        "messageId": TEXT,
        "sentAt": TIMES,
        "traits": TRAITS,
        "properties": OBJECTS,
        "context": st.fixed_dictionaries({}, optional={"traits": TRAITS, "page": OBJECTS}),
    },
)
FORM_FIELDS = st.fixed_dictionaries({"email": EMAILS}, optional={"company_size": COUNTS}).flatmap(
    lambda known: st.dictionaries(TEXT, JSON_VALUES, max_size=4).map(
        lambda extra: {**extra, **known}
    )
)
HTML_FIELDS = st.dictionaries(TEXT, TEXT, max_size=4).flatmap(
    lambda extra: EMAILS.map(lambda email: {**extra, "email": email})
)
WEBHOOKS = st.fixed_dictionaries(
    {
        "type": mostly(st.sampled_from(["lead_contacted", "demo_booked"]), TEXT),
        "data": st.fixed_dictionaries(
            {"userId": IDS}, optional={"email": EMAILS, "anonymousId": IDS}
        ).flatmap(lambda known: OBJECTS.map(lambda extra: {**extra, **known})),
    },
    optional={"timestamp": TIMES},
)
HUBSPOT = st.lists(
    st.fixed_dictionaries(
        {
            "subscriptionType": st.sampled_from(["contact.creation", "contact.propertyChange"]),
            "objectId": mostly(st.integers(1, 2**40), NUMBERS),
        },
        optional={
            "eventId": NUMBERS,
            "occurredAt": NUMBERS,
            "propertyName": st.sampled_from(["email", "firstname", "numberofemployees"]),
            "propertyValue": st.one_of(EMAILS, TEXT),
        },
    ),
    min_size=1,
    max_size=3,
)


def as_json(body: object) -> bytes:
    """What a sender puts on the wire: a lone surrogate can only travel escaped."""
    return json.dumps(body, ensure_ascii=True).encode()


Normalise = Callable[[datetime], list[InboundEvent]]


@dataclass(frozen=True)
class Sent:
    """A request body and how ingest's endpoint turns it into events."""

    kind: str
    raw: bytes
    normalise: Normalise = field(repr=False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # How Hypothesis shows a failing example (its dataclass printing shows nothing here).
        printer.text(f"Sent({self.kind!r}, {self.raw[:2000]!r})")


def _json_object(raw: bytes) -> dict[str, JsonValue]:
    parsed = parse_json(raw)
    if not isinstance(parsed, dict):
        raise AssertionError("the strategies make objects")
    return parsed


Body = TypeVar("Body")


def sent(
    kind: str,
    encode: Callable[[Any], bytes],
    events: Callable[[bytes, datetime], list[InboundEvent]],
) -> Callable[[Any], Sent]:
    """Turns a generated body into what goes on the wire and the events ingest makes of it."""

    def make(body: Body) -> Sent:
        raw = encode(body)
        return Sent(kind, raw, lambda now: events(raw, now))

    return make


def _batch_body(calls: list[dict[str, Any]]) -> bytes:
    return as_json({"batch": calls, "sentAt": NOW.isoformat()})


def _urlencoded(fields: dict[str, str]) -> bytes:
    return urlencode(fields, errors="surrogatepass").encode()


def requests(source: str) -> st.SearchStrategy[Sent]:
    """A request and how ingest's endpoint turns it into events, as (kind, normalise)."""
    single = sent(
        "call",
        as_json,
        lambda raw, now: [
            call_event(_json_object(raw), call_type=None, source=source, received_at=now)
        ],
    )
    batch = sent(
        "batch",
        _batch_body,
        lambda raw, now: batch_events(_json_object(raw), source=source, received_at=now),
    )
    form = sent(
        "form",
        as_json,
        lambda raw, now: [
            form_event("contract", _json_object(raw), source=source, received_at=now)
        ],
    )
    html_form = sent(
        "html form",
        _urlencoded,
        lambda raw, now: [
            form_event("contract", html_fields(parse_form(raw)), source=source, received_at=now)
        ],
    )
    webhook = sent(
        "webhook",
        as_json,
        lambda raw, now: [
            generic_event(parse_json(raw), source=source, delivery_id=None, received_at=now)
        ],
    )
    hubspot = sent(
        "hubspot",
        as_json,
        lambda raw, now: hubspot_events(parse_json(raw), source=source, received_at=now),
    )
    return st.one_of(
        CALLS.map(single),
        st.lists(CALLS, min_size=1, max_size=3).map(batch),
        FORM_FIELDS.map(form),
        HTML_FIELDS.map(html_form),
        WEBHOOKS.map(webhook),
        HUBSPOT.map(hubspot),
    )


class Scoring:
    """Scoring's real batch handler on its own event loop (Hypothesis runs tests synchronously)."""

    def __init__(self, settings: Settings) -> None:
        self.runner = asyncio.Runner()
        self.engine: AsyncEngine = self.runner.run(self._engine(settings.database_url))
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(self.engine)
        self.handler = InboundBatchHandler(self.sessions, settings.topics, Commits(), RulesCache())

    @staticmethod
    async def _engine(url: str) -> AsyncEngine:
        return make_engine(url)

    def apply(self, events: list[InboundEvent]) -> None:
        # Hypothesis seeds the random module alike for every example; scoring draws its new
        # leads' ids from it, which would then repeat from one example to the next.
        random.seed()
        self.runner.run(self.handler([delivered(event) for event in events]))

    def stored(self, events: list[InboundEvent]) -> dict[str, bool]:
        """Per event id: stored, and its lead exists."""
        return self.runner.run(self._stored([event.event_id for event in events]))

    async def _stored(self, ids: list[str]) -> dict[str, bool]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(InboundEventRow.event_id, LeadRow.id)
                .outerjoin(LeadRow, LeadRow.id == InboundEventRow.lead_id)
                .where(InboundEventRow.event_id.in_(ids))
            )
            found = {event_id: lead_id is not None for event_id, lead_id in rows}
        return {event_id: found.get(event_id, False) for event_id in ids}

    def close(self) -> None:
        self.runner.run(self.engine.dispose())
        self.runner.close()


@pytest.fixture(scope="module")
def scoring(settings: Settings) -> Iterator[Scoring]:
    found = Scoring(settings)
    yield found
    found.close()


@examples(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=requests(f"contract:{uuid.uuid4().hex[:8]}"))
def test_what_ingest_accepts_scoring_stores_and_applies(scoring: Scoring, request: Sent) -> None:
    kind = request.kind
    try:
        events = request.normalise(datetime.now(UTC))
    except Refusal as refused:
        status = refused.status
        event(f"{kind} refused: {refused.field} {refused.reason[:30]}")
    else:
        status = 202
    event(f"{kind}: {status}")
    if status != 202:
        assert 400 <= status < 500, kind
        return
    scoring.apply(events)
    stored = scoring.stored(events)
    assert all(stored.values()), f"{kind}: accepted but not stored: {stored}"

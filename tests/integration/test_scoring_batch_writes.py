"""A batch writes what the same events applied one by one write, and stores each event so that
what-if reads it back as the live fold saw it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import (
    AccountRow,
    InboundEventRow,
    LeadRow,
    ScoreChangeRow,
    StageChangeRow,
)
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.service.handlers import HAND_OVER_AT_LEAST
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import InboundEvent
from leadpipe.shared.settings import Settings
from tests.integration.test_exactly_once import DeliveredRecord, delivered
from tests.integration.test_scoring_consumer import Commits, event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]

PEOPLE = 10
VISITORS = 4
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _email(tag: str, n: int) -> str:
    return f"p{n}.{tag}@firma{n}-{tag}.example"


def _traffic(tag: str) -> list[InboundEvent]:
    """Form posts, page views, tracked events, visitors who identify (as a new lead or as a
    known one: a merge), company traits and sales feedback, interleaved, each lead many times."""
    at = iter(START + timedelta(seconds=20 * i) for i in range(10_000))
    events: list[InboundEvent] = []
    for n in range(PEOPLE):
        email = _email(tag, n)
        form = "demo-request" if n % 3 == 0 else "newsletter"
        events.append(
            event(
                "form_submitted",
                email=email,
                at=next(at),
                traits={
                    "email": email,
                    "first_name": "Erika",
                    "company": f"Firma {n} GmbH",
                    "title": "Geschäftsführerin" if n % 2 else "Werkstudent",
                    "company_size": 50 * (n + 1),
                    "industry": "Maschinenbau",
                    "country": "DE",
                },
                properties={"form_id": form, "budget": "yes" if n % 4 == 0 else "unknown"},
            )
        )
    for n in range(VISITORS):
        for url in ("/", "/pricing", "/produkt", "/preise"):
            events.append(
                event(
                    "page",
                    email=None,
                    anonymous_id=f"anon-{tag}-{n}",
                    at=next(at),
                    properties={"url": f"https://firma.example{url}"},
                )
            )
    # A visitor who only passes by, early: nothing after the first rows are handed over
    # brings its row up to date, so it must be up to date when it is handed over.
    for url in ("/", "/produkt", "/pricing"):
        events.append(
            event(
                "page",
                email=None,
                anonymous_id=f"passing-{tag}",
                at=next(at),
                properties={"url": f"https://firma.example{url}"},
            )
        )
    for round_ in range(16):
        for n in range(PEOPLE):
            email = _email(tag, n)
            if (n + round_) % 3 == 0:
                events.append(
                    event(
                        "track",
                        email=email,
                        at=next(at),
                        properties={"event": "Webinar Attended" if round_ % 2 else "Email Opened"},
                    )
                )
            else:
                events.append(
                    event(
                        "page",
                        email=email,
                        at=next(at),
                        properties={"url": "https://firma.example/pricing"},
                    )
                )
    # Visitor 0 and 1 turn out to be known people (merged), 2 and 3 new ones. Each domain is
    # given one company: a batch names an account after the first one it sees, a run of
    # single-event batches after the last (as before this test; not what it is about).
    for n in range(VISITORS):
        email = _email(tag, n) if n < 2 else f"new{n}.{tag}@neu{n}-{tag}.example"
        identified: dict[str, object] = {"email": email, "title": "CTO"}
        if n >= 2:
            identified["company"] = f"Neu {n} GmbH"
        events.append(
            event(
                "identify",
                email=email,
                anonymous_id=f"anon-{tag}-{n}",
                at=next(at),
                traits=identified,
            )
        )
    for n in range(0, PEOPLE, 3):
        events.append(event("lead_contacted", email=_email(tag, n), at=next(at)))
        events.append(event("lead_accepted", email=_email(tag, n), at=next(at)))
        events.append(event("lead_disqualified", email=_email(tag, n), at=next(at)))
    for n in range(PEOPLE):
        events.append(
            event(
                "page",
                email=_email(tag, n),
                at=next(at),
                properties={"url": "https://firma.example/preise"},
            )
        )
    # Last: a later event of the domain's lead writes the lead's company over the group's name
    # in a batch of its own, but not within one batch (the group's name wins there).
    events.append(
        event(
            "group",
            email=_email(tag, 1),
            at=next(at),
            traits={"name": "Firma Eins AG", "employees": 900},
        )
    )
    return events


def _plain(value: Any, tag: str) -> Any:
    """``value`` with the run's tag and ids taken out, so two runs compare."""
    if isinstance(value, str):
        return value.replace(tag, "TAG")
    if isinstance(value, dict):
        return {k: _plain(v, tag) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, tag) for v in value]
    return value


async def _written(sessions: async_sessionmaker[AsyncSession], tag: str) -> dict[str, Any]:
    """Everything the events of run ``tag`` left behind, keyed by the lead's email."""
    async with sessions() as session:
        leads = (
            (await session.execute(select(LeadRow).where(LeadRow.lead_key.contains(tag))))
            .scalars()
            .all()
        )
        found: dict[str, Any] = {}
        for lead in leads:
            changes = (
                await session.execute(
                    select(
                        ScoreChangeRow.component,
                        ScoreChangeRow.code,
                        ScoreChangeRow.delta,
                        ScoreChangeRow.reason,
                        ScoreChangeRow.rules_version,
                    )
                    .where(ScoreChangeRow.lead_id == lead.id)
                    .order_by(ScoreChangeRow.id)
                )
            ).all()
            moves = (
                await session.execute(
                    select(
                        StageChangeRow.from_stage,
                        StageChangeRow.to_stage,
                        StageChangeRow.reason,
                        StageChangeRow.refused,
                    )
                    .where(StageChangeRow.lead_id == lead.id)
                    .order_by(StageChangeRow.id)
                )
            ).all()
            emitted = (
                (
                    await session.execute(
                        text("SELECT payload FROM scoring.outbox WHERE key = :key ORDER BY id"),
                        {"key": lead.lead_key},
                    )
                )
                .scalars()
                .all()
            )
            stored = await session.scalar(
                select(text("count(*)"))
                .select_from(InboundEventRow)
                .where(InboundEventRow.lead_id == lead.id)
            )
            payloads = [p for p in map(orjson.loads, emitted) if p["lead_id"] == lead.id]
            found[_plain(lead.lead_key, tag)] = _plain(
                {
                    "row": {
                        c: getattr(lead, c)
                        for c in (
                            "email",
                            "stage",
                            "fit",
                            "engagement",
                            "qualification",
                            "grade",
                            "temperature",
                            "hand_raiser",
                            "profile",
                            "answers",
                            "first_name",
                            "company",
                            "title",
                            "company_size",
                            "industry",
                            "country",
                            "account_domain",
                            "source",
                            "rules_version",
                        )
                    },
                    "merged": lead.merged_into is not None,
                    "contacted": lead.contacted_at is not None,
                    "score_changes": [tuple(c) for c in changes],
                    "stage_changes": [tuple(m) for m in moves],
                    "emitted": [
                        (p["from_stage"], p["to_stage"], p["reason"], p["lead"]) for p in payloads
                    ],
                    "stored_events": stored,
                },
                tag,
            )
        accounts = (
            await session.execute(
                select(AccountRow.domain, AccountRow.name, AccountRow.traits).where(
                    AccountRow.domain.contains(tag)
                )
            )
        ).all()
        found["accounts"] = sorted(_plain([tuple(a) for a in accounts], tag))
    return found


async def test_one_batch_writes_what_event_by_event_writes(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    one, many = f"b{uuid.uuid4().hex[:6]}", f"s{uuid.uuid4().hex[:6]}"
    batch = _traffic(one)
    # Long enough that rows are handed to PostgreSQL while later events are still folded.
    assert len(batch) > 2 * HAND_OVER_AT_LEAST
    await handler([delivered(e) for e in batch])
    for single in _traffic(many):
        await handler([delivered(single)])
    in_one, one_by_one = await _written(sessions, one), await _written(sessions, many)
    assert in_one == one_by_one
    # The comparison covers what matters: moves, merges, accounts, refusals.
    merged = [k for k, v in in_one.items() if k != "accounts" and v["merged"]]
    assert len(merged) == 2
    assert any(
        v["stage_changes"] and v["stage_changes"][-1][3]
        for k, v in in_one.items()
        if k != "accounts"
    )
    assert [
        "firma1-TAG.example",
        "Firma Eins AG",
        {"name": "Firma Eins AG", "employees": 900},
    ] in in_one["accounts"]
    assert ["firma2-TAG.example", "Firma 2 GmbH", {}] in in_one["accounts"]
    # Named by the company an identify call gave the visitor it turned into a lead.
    assert ["neu2-TAG.example", "Neu 2 GmbH", {}] in in_one["accounts"]


def _raw(event_: InboundEvent, replace: tuple[bytes, bytes] | None = None) -> DeliveredRecord:
    cloud_event = wrap(event_, "/test")
    data = cloud_event.data if replace is None else cloud_event.data.replace(*replace)
    assert replace is None or data != cloud_event.data
    return DeliveredRecord(data, cloud_event.headers(), key=event_.lead_key.encode())


async def test_what_if_reads_each_stored_event_as_the_live_fold_saw_it(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"stored.{uuid.uuid4().hex[:8]}@firma.example"
    at = datetime.now(UTC) - timedelta(minutes=5)
    plain = event("page", email=email, at=at, properties={"url": "/preise", "title": "Preise – Ü"})
    floats = event("track", email=email, at=at, properties={"event": "Email Opened", "s": 100.0})
    naive = event("page", email=email, at=at.replace(tzinfo=None), properties={"n": 7})
    records = [
        _raw(plain),
        # 1e2 as a sender may write it: JSONB alone would give it back as the int 100.
        _raw(floats, (b'"s":100.0', b'"s":1e2')),
        _raw(naive),
        # Escapes and spacing that JSONB does not keep.
        _raw(
            plain.model_copy(update={"event_id": str(uuid.uuid4())}),
            (b'"/preise"', b'"\\/pr\\u00e9ise"'),
        ),
    ]
    handler = InboundBatchHandler(sessions, settings.topics, Commits(), RulesCache())
    await handler(records)
    seen = [InboundEvent.model_validate_json(r.value or b"") for r in records]
    seen[2] = seen[2].model_copy(update={"occurred_at": at})  # read as UTC, as decay needs
    async with sessions() as session:
        stored: dict[str, str] = dict(
            (
                await session.execute(
                    text(
                        "SELECT event_id, payload::TEXT FROM scoring.inbound_events"
                        " WHERE event_id = ANY(:ids)"
                    ),
                    {"ids": [e.event_id for e in seen]},
                )
            ).all()
        )
    for live in seen:
        assert InboundEvent.model_validate_json(stored[live.event_id]) == live
    assert seen[1].properties["s"] == 100.0 and seen[3].properties["url"] == "/préise"

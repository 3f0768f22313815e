"""Erasure on request: a person's data leaves both services' databases, anonymous counts
stay, a receipt records it, and events still in Kafka cannot bring the person back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import AssignmentRow
from leadpipe.routing.entrypoints.consumer import RoutingBatchHandler
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.scoring.adapters.orm import ErasureReceiptRow, InboundEventRow, LeadRow, outbox
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.service.erasure import erase_person, prune_event_history
from leadpipe.shared.envelope import wrap
from leadpipe.shared.events import Identity, InboundEvent
from leadpipe.shared.privacy import record_key
from leadpipe.shared.settings import Settings
from tests.events import form_submitted
from tests.integration.routing_helpers import add_reps, api_client, clean_routing
from tests.integration.test_exactly_once import DeliveredRecord
from tests.stored_text import columns_holding

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("topics_created")]

SCHEMAS = ("scoring", "routing")


def demo_request(email: str, last_name: str) -> InboundEvent:
    return form_submitted(
        email,
        traits={
            "first_name": "Erika",
            "last_name": last_name,
            "title": "Geschäftsführerin",
            "company": f"{last_name} GmbH",
        },
        properties={"budget": "yes"},
    )


@pytest.fixture
async def routing_api(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    await clean_routing(sessions)
    async for client in api_client(sessions):
        yield client


async def _outbox_records(
    sessions: async_sessionmaker[AsyncSession], key: str
) -> list[DeliveredRecord]:
    """What scoring emitted for ``key``, as routing's consumer would receive it."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(outbox.c.topic, outbox.c.headers, outbox.c.payload)
                .where(outbox.c.key == key)
                .order_by(outbox.c.id)
            )
        ).all()
    return [
        DeliveredRecord(
            row.payload,
            [(n, v.encode()) for n, v in row.headers],
            topic=row.topic,
            key=key.encode(),
        )
        for row in rows
    ]


async def test_erasure_removes_the_person_from_both_services_and_keeps_them_out(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], routing_api: httpx.AsyncClient
) -> None:
    run = uuid.uuid4().hex[:8]
    email, last_name = f"erika.{run}@musterfrau.example", f"Musterfrau{run}"
    await add_reps(
        routing_api, [{"name": "Anna", "email": f"anna.{run}@sales.example", "role": "ae"}]
    )
    scoring = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())
    routing = RoutingBatchHandler(sessions, RoutingConfig(topics=settings.topics), lambda: None)
    first = demo_request(email, last_name)
    await scoring([DeliveredRecord(wrap(first, "/t").data, wrap(first, "/t").headers())])
    await routing(await _outbox_records(sessions, record_key(email)))
    assert await columns_holding(sessions, last_name, SCHEMAS), (
        "the test lead was not stored at all"
    )

    async with sessions() as session, session.begin():
        now = datetime.now(UTC)
        uow = await PostgresScoringUnitOfWork.open(session, settings.topics, now)
        receipt = await erase_person(uow, email, settings.topics, now)
    # Routing reads the lead.erased event that scoring emitted, keyed by the lead id.
    await routing(await _outbox_records(sessions, receipt.lead_ids[0]))

    assert await columns_holding(sessions, email, SCHEMAS) == []
    assert await columns_holding(sessions, last_name, SCHEMAS) == []
    assert receipt.removed["leads_anonymised"] == 1
    async with sessions() as session:
        stored = await session.get(ErasureReceiptRow, receipt.id)
        assert stored is not None
        assert email not in str(stored.__dict__)
        # Anonymous aggregates stay: the lead still counts in its stage, the assignment per rep.
        lead = await session.get(LeadRow, receipt.lead_ids[0])
        assert lead is not None
        assert (lead.stage, lead.email) == ("sql", None)
        assignment = (
            await session.execute(
                select(AssignmentRow).where(AssignmentRow.lead_id == receipt.lead_ids[0])
            )
        ).scalar_one()
        assert assignment.rep_id is not None
        assert assignment.status == "closed"

    # An event of that person still in Kafka (not applied yet) does not bring them back.
    late = demo_request(email, last_name)
    await scoring([DeliveredRecord(wrap(late, "/t").data, wrap(late, "/t").headers())])
    assert await columns_holding(sessions, last_name, SCHEMAS) == []


async def test_retention_prunes_old_event_history_only(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = f"old.{uuid.uuid4().hex[:8]}@history.example"
    event = demo_request(email, "Alt")
    scoring = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())
    await scoring([DeliveredRecord(wrap(event, "/t").data, wrap(event, "/t").headers())])
    async with sessions() as session, session.begin():
        kept = await prune_event_history(
            await PostgresScoringUnitOfWork.open(session, settings.topics, datetime.now(UTC)),
            event.occurred_at - timedelta(days=1),
        )
        stored = await session.scalar(
            select(func.count()).where(InboundEventRow.event_id == event.event_id)
        )
        assert stored == 1
        pruned = await prune_event_history(
            await PostgresScoringUnitOfWork.open(session, settings.topics, datetime.now(UTC)),
            event.occurred_at + timedelta(seconds=1),
        )
        stored = await session.scalar(
            select(func.count()).where(InboundEventRow.event_id == event.event_id)
        )
    assert stored == 0
    assert pruned >= 1
    assert kept >= 0
    async with sessions() as session:
        assert await session.scalar(select(LeadRow.stage).where(LeadRow.email == email)) == "sql"


def tracked(
    name: str, lead_key: str, identity: Identity, traits: dict[str, object] | None = None
) -> InboundEvent:
    """A tracking call as ingest normalises it."""
    now = datetime.now(UTC)
    return InboundEvent(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        received_at=now,
        name=name,
        lead_key=lead_key,
        source="segment:web",
        identity=identity,
        traits=traits or {},
    )


async def test_later_events_under_any_id_of_the_person_stay_out_and_accounts_keep_no_person(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run = uuid.uuid4().hex[:8]
    email, user_id, anonymous_id = f"jan.{run}@konzern.example", f"u-{run}", f"a-{run}"
    last_name, phone = f"Janssen{run}", f"+49 30 {run[:6]}"
    scoring = InboundBatchHandler(sessions, settings.topics, lambda: None, RulesCache())

    def delivered(event: InboundEvent) -> DeliveredRecord:
        return DeliveredRecord(wrap(event, "/t").data, wrap(event, "/t").headers())

    person = Identity(email=email, user_id=user_id, anonymous_id=anonymous_id)
    await scoring(
        [
            delivered(tracked("page", f"anon:{anonymous_id}", Identity(anonymous_id=anonymous_id))),
            delivered(
                tracked("identify", email, person, {"first_name": "Jan", "last_name": last_name})
            ),
            # A group call from the person, with their own contact details among the traits.
            delivered(
                tracked(
                    "group",
                    email,
                    person,
                    {"name": f"Konzern {run} AG", "email": email, "phone": phone, "employees": 900},
                )
            ),
        ]
    )
    async with sessions() as session:
        traits = await session.scalar(
            text("SELECT traits::text FROM scoring.accounts WHERE domain = 'konzern.example'")
        )
    assert traits is not None and "900" in traits
    assert email not in traits and phone not in traits

    # A colleague keeps the account alive past the erasure.
    colleague = f"kim.{run}@konzern.example"
    await scoring([delivered(demo_request(colleague, f"Kollegin{run}"))])
    async with sessions() as session, session.begin():
        now = datetime.now(UTC)
        uow = await PostgresScoringUnitOfWork.open(session, settings.topics, now)
        receipt = await erase_person(uow, email, settings.topics, now)
    assert receipt.removed["identifiers_suppressed"] >= 4

    # Calls under the user id alone, or the anonymous id alone, do not bring them back.
    await scoring(
        [
            delivered(
                tracked("identify", user_id, Identity(user_id=user_id), {"last_name": last_name})
            ),
            delivered(
                tracked(
                    "identify",
                    f"anon:{anonymous_id}",
                    Identity(anonymous_id=anonymous_id),
                    {"last_name": last_name},
                )
            ),
        ]
    )
    for needle in (email, last_name, phone, user_id, anonymous_id):
        assert await columns_holding(sessions, needle, SCHEMAS) == [], needle

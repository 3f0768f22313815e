"""Shared pieces of routing's integration tests: a clean routing schema, the API on real
PostgreSQL, stage-change events as the consume loop delivers them, and a settable clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import AssignmentRow, outbox
from leadpipe.routing.entrypoints.api.accounts import router as accounts_router
from leadpipe.routing.entrypoints.api.assignments import router as assignments_router
from leadpipe.routing.entrypoints.api.errors import install_error_handlers
from leadpipe.routing.entrypoints.api.reps import router as reps_router
from leadpipe.routing.entrypoints.api.rules import router as rules_router
from leadpipe.routing.entrypoints.consumer import RoutingBatchHandler
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.shared.envelope import from_record, unwrap, wrap
from leadpipe.shared.events import (
    InboundEvent,
    LeadErased,
    LeadRouted,
    LeadSnapshot,
    Stage,
    StageChanged,
    WireModel,
)
from leadpipe.shared.privacy import record_key

ROUTING_TABLES = (
    "assignments",
    "reps",
    "pools",
    "routing_rules",
    "account_owners",
    "rotation_cursors",
    "outbox",
)


async def clean_routing(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Tests share one database; each routing test starts from no reps and no assignments."""
    async with sessions() as session, session.begin():
        await session.execute(text(f"TRUNCATE {', '.join(f'routing.{t}' for t in ROUTING_TABLES)}"))


async def api_client(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    for router in (reps_router, rules_router, accounts_router, assignments_router):
        app.include_router(router)
    app.state.sessions = sessions
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://routing") as client:
        yield client


@dataclass(frozen=True)
class DeliveredRecord:
    topic: str
    value: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def delivered(topic: str, event: WireModel, key: str) -> DeliveredRecord:
    cloud_event = wrap(event, "/test")
    return DeliveredRecord(topic, cloud_event.data, cloud_event.headers(), key=key.encode())


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def noop() -> None:
    return None


async def route(
    sessions: async_sessionmaker[AsyncSession],
    config: RoutingConfig,
    clock: Callable[[], datetime],
    *events: StageChanged | InboundEvent | LeadErased,
) -> None:
    """Hands the events to routing's batch handler in one batch, each on the topic it comes from."""
    handler = RoutingBatchHandler(sessions, config, noop, clock)
    await handler(
        [
            delivered(
                config.topics.lead_events
                if isinstance(event, InboundEvent)
                else config.topics.stage_changed,
                event,
                event.lead_id if isinstance(event, LeadErased) else event.lead_key,
            )
            for event in events
        ]
    )


def became_sql(email: str, **lead: Any) -> StageChanged:
    return StageChanged(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        lead_id=f"lead-{email}",
        lead_key=record_key(email),  # as scoring sends it
        from_stage=Stage.MQL,
        to_stage=lead.pop("to_stage", Stage.SQL),
        reason="test",
        cause_event_id=str(uuid.uuid4()),
        lead=LeadSnapshot(account_domain=email.split("@")[1], **lead),
    )


def key_of(email_or_key: str) -> str:
    """The lead key routing knows a lead by: the pseudonym of an email, or a key as given."""
    return record_key(email_or_key) if "@" in email_or_key else email_or_key


async def assignments_of(
    sessions: async_sessionmaker[AsyncSession], email: str
) -> list[AssignmentRow]:
    async with sessions() as session:
        return list(
            (
                await session.execute(
                    select(AssignmentRow)
                    .where(AssignmentRow.lead_key == key_of(email))
                    .order_by(AssignmentRow.created_at, AssignmentRow.kind)
                )
            ).scalars()
        )


async def emitted(sessions: async_sessionmaker[AsyncSession], email: str) -> list[LeadRouted]:
    """What routing put in its outbox for the lead, in order."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(outbox.c.headers, outbox.c.payload)
                .where(outbox.c.key == key_of(email))
                .order_by(outbox.c.id)
            )
        ).all()
    return [
        unwrap(from_record([(n, v.encode()) for n, v in row.headers], row.payload), LeadRouted)
        for row in rows
    ]


async def add_reps(client: httpx.AsyncClient, reps: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Adds reps over the API; returns email → rep id."""
    ids: dict[str, str] = {}
    for rep in reps:
        response = await client.post("/v1/reps", json=rep)
        assert response.status_code == 201, response.text
        ids[rep["email"]] = response.json()["id"]
    return ids

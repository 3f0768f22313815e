"""Routing's composition root: settings → config → consumer, routers and jobs → app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import ProcessedEventRow, api_tokens, outbox
from leadpipe.routing.config import RoutingSettings
from leadpipe.routing.entrypoints.api.accounts import router as accounts_router
from leadpipe.routing.entrypoints.api.assignments import router as assignments_router
from leadpipe.routing.entrypoints.api.reps import router as reps_router
from leadpipe.routing.entrypoints.api.rules import router as rules_router
from leadpipe.routing.entrypoints.consumer import RoutingBatchHandler, utc_now
from leadpipe.routing.entrypoints.jobs import routing_jobs
from leadpipe.shared.bulk import table_of
from leadpipe.shared.consume import BatchHandler
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.privacy import pseudonyms
from leadpipe.shared.runtime import create_consumer_app
from leadpipe.shared.serving import serve
from leadpipe.shared.settings import Settings

GROUP_ID = "leadpipe-routing"


def create_app(settings: Settings, routing: RoutingSettings | None = None) -> FastAPI:
    """Routing consumes ``lead.stage-changed.v1`` (leads to route) and, in the same consumer
    group, ``lead.events.v1`` for the sales feedback it acts on (``lead_contacted``)."""
    topics = settings.topics
    pseudonyms()  # fails at start when no key is configured (it keys plain lead_contacted)
    routing = routing or RoutingSettings()
    config = routing.routing_config(topics)

    def make_handler(
        sessions: async_sessionmaker[AsyncSession], relay: OutboxRelay
    ) -> BatchHandler:
        return RoutingBatchHandler(sessions, config, relay.wake)

    return create_consumer_app(
        settings,
        title="leadpipe routing",
        group_id=GROUP_ID,
        topics_in=[topics.stage_changed, topics.lead_events],
        outbox=outbox,
        processed=table_of(ProcessedEventRow),
        tokens=api_tokens,
        make_handler=make_handler,
        routers=[reps_router, rules_router, accounts_router, assignments_router],
        jobs=routing_jobs(config, utc_now, interval_s=routing.clock_interval_s),
    )


def run() -> None:
    settings = Settings()
    configure_logging("routing", settings.log_level)
    serve(
        create_app(settings),
        host=settings.host,
        port=settings.routing_port,
        request_timeout_s=settings.request_timeout_s,
        log_config=None,
    )


if __name__ == "__main__":
    run()

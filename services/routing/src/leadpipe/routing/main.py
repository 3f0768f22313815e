"""Routing's composition root: settings → engine, producer, consumer, relay, clock → app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import ProcessedEventRow, api_tokens, outbox
from leadpipe.routing.api.accounts import router as accounts_router
from leadpipe.routing.api.assignments import router as assignments_router
from leadpipe.routing.api.errors import install_error_handlers
from leadpipe.routing.api.reps import router as reps_router
from leadpipe.routing.api.rules import router as rules_router
from leadpipe.routing.clock import RoutingClock
from leadpipe.routing.config import RoutingSettings
from leadpipe.routing.consumer import RoutingBatchHandler, utc_now
from leadpipe.shared.auth import TokenStore
from leadpipe.shared.bulk import table_of
from leadpipe.shared.consume import BatchHandler
from leadpipe.shared.docs import serve_docs
from leadpipe.shared.http import operations_router
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.privacy import pseudonyms
from leadpipe.shared.runtime import ConsumerRuntime, consumer_runtime, include_protected
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with consumer_runtime(
            settings,
            group_id=GROUP_ID,
            topics_in=[topics.stage_changed, topics.lead_events],
            outbox=outbox,
            processed=table_of(ProcessedEventRow),
            make_handler=make_handler,
        ) as runtime:
            clock = RoutingClock(
                runtime.sessions,
                config,
                runtime.relay.wake,
                utc_now,
                interval_s=routing.clock_interval_s,
            )
            clock_task = asyncio.create_task(clock.run(), name="routing-clock")
            app.state.sessions = runtime.sessions
            app.state.runtime = runtime
            app.state.known_tokens = TokenStore(runtime.sessions, api_tokens).known
            app.state.clock_task = clock_task
            try:
                yield
            finally:
                clock_task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await clock_task

    app = FastAPI(
        title="leadpipe routing", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    serve_docs(app)

    async def readiness() -> dict[str, bool]:
        runtime: ConsumerRuntime = app.state.runtime
        checks = await runtime.readiness()
        clock_task: asyncio.Task[None] = app.state.clock_task
        checks["clock"] = not clock_task.done()
        return checks

    install_error_handlers(app)
    app.include_router(operations_router(readiness))
    include_protected(app, [reps_router, rules_router, accounts_router, assignments_router])
    return app


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

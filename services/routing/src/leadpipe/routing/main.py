"""Routing's composition root: settings → engine, producer, consumer, relay → app."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.routing.adapters.orm import outbox
from leadpipe.routing.api.reps import router as reps_router
from leadpipe.routing.handlers import StageChangedHandler
from leadpipe.shared.consume import BatchHandler, TransactionalBatchHandler
from leadpipe.shared.events import StageChanged
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.runtime import create_consumer_app
from leadpipe.shared.settings import Settings

GROUP_ID = "leadpipe-routing"


def create_app(settings: Settings) -> FastAPI:
    topics = settings.topics

    def make_handler(
        sessions: async_sessionmaker[AsyncSession], relay: OutboxRelay
    ) -> BatchHandler:
        return TransactionalBatchHandler(
            sessions, StageChanged, StageChangedHandler(topics), relay.wake
        )

    return create_consumer_app(
        settings,
        title="leadpipe routing",
        group_id=GROUP_ID,
        topic_in=topics.stage_changed,
        outbox=outbox,
        make_handler=make_handler,
        routers=[reps_router],
    )


def run() -> None:
    settings = Settings()
    configure_logging("routing", settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.routing_port, log_config=None
    )


if __name__ == "__main__":
    run()

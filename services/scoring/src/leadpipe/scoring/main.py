"""Scoring's composition root: settings → engine, producer, consumer, relay → app."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import outbox
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.api.leads import leads_router
from leadpipe.scoring.api.rules import rules_router
from leadpipe.scoring.handlers import InboundBatchHandler
from leadpipe.shared.consume import BatchHandler
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.runtime import create_consumer_app
from leadpipe.shared.settings import Settings

GROUP_ID = "leadpipe-scoring"


def create_app(settings: Settings) -> FastAPI:
    topics = settings.topics
    rules = RulesCache()

    def make_handler(
        sessions: async_sessionmaker[AsyncSession], relay: OutboxRelay
    ) -> BatchHandler:
        return InboundBatchHandler(sessions, topics, relay.wake, rules)

    return create_consumer_app(
        settings,
        title="leadpipe scoring",
        group_id=GROUP_ID,
        topic_in=topics.lead_events,
        outbox=outbox,
        make_handler=make_handler,
        routers=[leads_router(rules), rules_router(rules)],
    )


def run() -> None:
    settings = Settings()
    configure_logging("scoring", settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.scoring_port, log_config=None
    )


if __name__ == "__main__":
    run()

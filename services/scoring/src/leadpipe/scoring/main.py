"""Scoring's composition root: settings → rules cache, key client, consumer, jobs → app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.scoring.adapters.orm import ProcessedEventRow, api_tokens, outbox
from leadpipe.scoring.adapters.rules_store import RulesCache
from leadpipe.scoring.adapters.subject_keys import SubjectKeyClient
from leadpipe.scoring.entrypoints.api.erasures import erasures_router
from leadpipe.scoring.entrypoints.api.leads import leads_router
from leadpipe.scoring.entrypoints.api.rules import rules_router
from leadpipe.scoring.entrypoints.consumer import InboundBatchHandler
from leadpipe.scoring.entrypoints.jobs import scoring_jobs
from leadpipe.shared.bulk import table_of
from leadpipe.shared.consume import BatchHandler
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.privacy import pseudonyms
from leadpipe.shared.runtime import create_consumer_app
from leadpipe.shared.serving import serve
from leadpipe.shared.settings import Settings

GROUP_ID = "leadpipe-scoring"


def create_app(settings: Settings) -> FastAPI:
    topics = settings.topics
    rules = RulesCache()
    pseudonyms()  # fails at start when no key is configured, not at the first stage change
    keys = SubjectKeyClient.from_settings(settings)

    def make_handler(
        sessions: async_sessionmaker[AsyncSession], relay: OutboxRelay
    ) -> BatchHandler:
        return InboundBatchHandler(sessions, topics, relay.wake, rules, keys)

    return create_consumer_app(
        settings,
        title="leadpipe scoring",
        group_id=GROUP_ID,
        topics_in=[topics.lead_events],
        outbox=outbox,
        processed=table_of(ProcessedEventRow),
        tokens=api_tokens,
        make_handler=make_handler,
        routers=[leads_router(rules), rules_router(rules), erasures_router(topics, keys)],
        jobs=scoring_jobs(rules, topics, timedelta(days=settings.event_retention_days)),
        on_close=[keys.close],
    )


def run() -> None:
    settings = Settings()
    configure_logging("scoring", settings.log_level)
    serve(
        create_app(settings),
        host=settings.host,
        port=settings.scoring_port,
        request_timeout_s=settings.request_timeout_s,
        log_config=None,
    )


if __name__ == "__main__":
    run()

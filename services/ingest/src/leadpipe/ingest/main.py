"""Ingest's composition root: settings → producer → app. No database on the hot path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from leadpipe.ingest.adapters.publisher import EventPublisher
from leadpipe.ingest.api.errors import install_error_handlers
from leadpipe.ingest.api.forms import router as forms_router
from leadpipe.shared.http import operations_router
from leadpipe.shared.kafka import ensure_topics, make_producer
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.runtime import start_with_retry
from leadpipe.shared.settings import Settings


def create_app(settings: Settings, *, startup_timeout_s: float = 120.0) -> FastAPI:
    topics = settings.topics

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = make_producer(settings.kafka_bootstrap, client_id="leadpipe-ingest")
        await start_with_retry(
            lambda: ensure_topics(
                settings.kafka_bootstrap,
                topics.all(),
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                retention_ms=settings.topic_retention_ms,
            ),
            "kafka",
            give_up_after_s=startup_timeout_s,
        )
        await start_with_retry(producer.start, "kafka producer", give_up_after_s=startup_timeout_s)
        app.state.publisher = EventPublisher(
            producer, topics.lead_events, settings.kafka_ack_timeout_s
        )
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(title="leadpipe ingest", version="0.1.0", lifespan=lifespan)

    async def readiness() -> dict[str, bool]:
        publisher: EventPublisher = app.state.publisher
        return {"kafka": await publisher.ready()}

    install_error_handlers(app)
    app.include_router(operations_router(readiness))
    app.include_router(forms_router)
    return app


def run() -> None:
    settings = Settings()
    configure_logging("ingest", settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.ingest_port, log_config=None
    )


if __name__ == "__main__":
    run()

"""Ingest's composition root: settings → producer, source cache → app. No database on the
hot path: sources are read from PostgreSQL in the background (at once when the store announces
a change) and served from memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from leadpipe.ingest.adapters.metrics import ACCEPTED, SUPPRESSED
from leadpipe.ingest.adapters.publisher import EventPublisher
from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_cache import SourceCache
from leadpipe.ingest.adapters.subject_keys import SubjectKeys
from leadpipe.ingest.domain.rate_limit import RateLimiter
from leadpipe.ingest.entrypoints.api.direct import DirectPosts, Endpoint
from leadpipe.ingest.entrypoints.api.errors import install_error_handlers
from leadpipe.ingest.entrypoints.api.forms import EVENT_ROUTES as FORM_ROUTES
from leadpipe.ingest.entrypoints.api.forms import router as forms_router
from leadpipe.ingest.entrypoints.api.state import Ingest
from leadpipe.ingest.entrypoints.api.subject_keys import router as subject_keys_router
from leadpipe.ingest.entrypoints.api.tracking import EVENT_ROUTES as TRACKING_ROUTES
from leadpipe.ingest.entrypoints.api.tracking import router as tracking_router
from leadpipe.ingest.entrypoints.api.webhooks import router as webhooks_router
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.docs import serve_docs
from leadpipe.shared.http import operations_router
from leadpipe.shared.kafka import ensure_topics, make_producer
from leadpipe.shared.logs import configure_logging
from leadpipe.shared.memory import freeze_startup_objects
from leadpipe.shared.privacy import pseudonyms, service_token
from leadpipe.shared.runtime import start_with_retry
from leadpipe.shared.serving import serve
from leadpipe.shared.settings import Settings

EVENT_ROUTES: dict[str, Endpoint] = {**TRACKING_ROUTES, **FORM_ROUTES}


def create_app(settings: Settings, *, startup_timeout_s: float = 120.0) -> FastAPI:
    topics = settings.topics

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = make_producer(settings.kafka_bootstrap, client_id="leadpipe-ingest")
        engine = make_engine(settings.database_url, pool_size=2)
        key = settings.secrets_key.get_secret_value() if settings.secrets_key else None
        sessions = make_sessionmaker(engine)
        sources = SourceCache(
            sessions,
            SecretBox(key),
            settings.source_refresh_s,
            database_url=settings.database_url,
        )
        subject_keys = SubjectKeys(sessions)
        app.state.subject_keys = subject_keys
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
        await start_with_retry(sources.load, "source registry", give_up_after_s=startup_timeout_s)
        refresher = asyncio.create_task(sources.keep_fresh(), name="source-refresh")
        for counter in (ACCEPTED, SUPPRESSED):
            counter.only_registered(lambda source: sources.registry.knows(source))
        app.state.ingest = Ingest(
            publisher=EventPublisher(
                producer, topics.lead_events, settings.kafka_ack_timeout_s, subject_keys
            ),
            sources=sources,
            limiter=RateLimiter(settings.source_rate_per_s, settings.source_rate_burst),
            public_base_url=settings.public_base_url,
        )
        freeze_startup_objects()
        try:
            yield
        finally:
            refresher.cancel()
            with suppress(asyncio.CancelledError):
                await refresher
            await producer.stop()
            await engine.dispose()

    app = FastAPI(
        title="leadpipe ingest", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    serve_docs(app)
    # Both fail here, at start, when no key is configured, rather than at the first event.
    app.state.service_token = service_token(settings)
    pseudonyms()

    async def readiness() -> dict[str, bool]:
        ingest: Ingest = app.state.ingest
        return {"kafka": await ingest.publisher.ready(), "sources": ingest.sources.loaded}

    install_error_handlers(app)
    app.include_router(operations_router(readiness))
    app.include_router(tracking_router)
    app.include_router(forms_router)
    app.include_router(webhooks_router)
    app.include_router(subject_keys_router)
    return app


def run() -> None:
    settings = Settings()
    configure_logging("ingest", settings.log_level)
    # No access log: URLs can carry a webhook token; refusals are logged without input.
    serve(
        DirectPosts(create_app(settings), EVENT_ROUTES),
        host=settings.host,
        port=settings.ingest_port,
        request_timeout_s=settings.request_timeout_s,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    run()

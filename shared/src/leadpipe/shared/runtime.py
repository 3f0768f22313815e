"""What a consuming service runs besides its HTTP API: the database engine, the producer, the
consume loop and the outbox relay, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from leadpipe.shared.api_input import refuse_unstorable_text
from leadpipe.shared.auth import TokenStore, require_by_method
from leadpipe.shared.consume import BatchHandler, ConsumerHealth, consume_forever
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.dead_letters import DeadLetterQueue
from leadpipe.shared.docs import serve_docs
from leadpipe.shared.http import operations_router
from leadpipe.shared.kafka import ensure_topics, make_consumer, make_producer
from leadpipe.shared.memory import freeze_startup_objects
from leadpipe.shared.outbox import OutboxRelay
from leadpipe.shared.problems import install_problem_handlers
from leadpipe.shared.rebalance import BatchGate
from leadpipe.shared.retention import Retention, prune_forever
from leadpipe.shared.settings import Settings

log = logging.getLogger(__name__)

MakeHandler = Callable[[async_sessionmaker[AsyncSession], OutboxRelay], BatchHandler]


@dataclass
class ConsumerRuntime:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    relay: OutboxRelay
    health: ConsumerHealth
    tasks: list[asyncio.Task[None]]

    async def readiness(self) -> dict[str, bool]:
        """Answers within about two seconds even when a dependency hangs: the checks run
        side by side, each bounded."""
        database, kafka, lag = await asyncio.gather(
            self._database_answers(), self._kafka_answers(), self._lag()
        )
        loops = all(not task.done() for task in self.tasks)
        moving = self.health.healthy() and not self.health.stuck(lag)
        return {"database": database, "kafka": kafka, "consumer": loops and moving}

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(2.0), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _kafka_answers(self) -> bool:
        try:
            async with asyncio.timeout(2.0):
                await self.consumer.topics()  # a metadata round trip to the brokers
        except Exception:
            return False
        return True

    async def _lag(self) -> int:
        """Records between this consumer's positions and the high-water marks it last saw."""
        lag = 0
        try:
            async with asyncio.timeout(1.0):
                for partition in self.consumer.assignment():
                    highwater = self.consumer.highwater(partition)
                    if highwater is not None:
                        lag += max(0, highwater - await self.consumer.position(partition))
        except Exception:
            return 0
        return lag


async def start_with_retry(
    start: Callable[[], object], what: str, *, give_up_after_s: float
) -> None:
    """Start a client whose server may come up later than this service."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_random_exponential(multiplier=0.2, max=5.0),
        stop=stop_after_delay(give_up_after_s),
        reraise=True,
    ):
        with attempt:
            try:
                result = start()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                log.warning("%s not reachable yet: %s", what, exc)
                raise


@asynccontextmanager
async def consumer_runtime(
    settings: Settings,
    *,
    group_id: str,
    topics_in: Sequence[str],
    outbox: Table,
    processed: Table,
    make_handler: MakeHandler,
    startup_timeout_s: float = 120.0,
) -> AsyncIterator[ConsumerRuntime]:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    producer = make_producer(settings.kafka_bootstrap, client_id=group_id)
    gate = BatchGate()
    consumer = make_consumer(settings.kafka_bootstrap, group_id, topics_in, listener=gate)
    relay = OutboxRelay(sessions, outbox, producer, settings.kafka_bootstrap)
    health = ConsumerHealth()
    try:
        await start_with_retry(
            lambda: ensure_topics(
                settings.kafka_bootstrap,
                settings.topics.all(),
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                retention_ms=settings.topic_retention_ms,
            ),
            "kafka",
            give_up_after_s=startup_timeout_s,
        )
        await start_with_retry(producer.start, "kafka producer", give_up_after_s=startup_timeout_s)
        await start_with_retry(consumer.start, "kafka consumer", give_up_after_s=startup_timeout_s)
        handler = make_handler(sessions, relay)
        tasks = [
            asyncio.create_task(
                consume_forever(
                    consumer,
                    handler,
                    health,
                    DeadLetterQueue(producer, settings.topics.lead_events_dlq),
                    gate=gate,
                ),
                name="consume",
            ),
            asyncio.create_task(relay.run(), name="outbox-relay"),
            asyncio.create_task(
                prune_forever(
                    sessions,
                    outbox,
                    processed,
                    Retention.of(settings.outbox_retention_days, settings.topic_retention_ms),
                ),
                name="bookkeeping-retention",
            ),
        ]
        runtime = ConsumerRuntime(engine, sessions, producer, consumer, relay, health, tasks)
        # A busy consume loop triggers full collections often; each walked every start-up
        # object again, and the collector cost scoring more than decoding its events.
        freeze_startup_objects()
        try:
            yield runtime
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError, Exception):
                    await task
    finally:
        with suppress(Exception):
            await consumer.stop()
        with suppress(Exception):
            await producer.stop()
        await engine.dispose()


@dataclass(frozen=True)
class BackgroundJob:
    """A loop a service runs beside its consume loop for its whole lifetime (a sweeper, a
    pruning job): started once the runtime is up, cancelled before it closes. A job that
    ends makes the service unready."""

    name: str
    run: Callable[[ConsumerRuntime], Coroutine[Any, Any, None]]


def create_consumer_app(
    settings: Settings,
    *,
    title: str,
    group_id: str,
    topics_in: Sequence[str],
    outbox: Table,
    processed: Table,
    tokens: Table,
    make_handler: MakeHandler,
    routers: Sequence[APIRouter],
    jobs: Sequence[BackgroundJob] = (),
    on_close: Sequence[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """The FastAPI app of a consuming service: its token-protected API plus the consume loop,
    the relay and ``jobs``, which run for the app's lifetime; ``on_close`` runs after they
    stopped. ``app.state.sessions`` is the API's session factory."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with consumer_runtime(
                settings,
                group_id=group_id,
                topics_in=topics_in,
                outbox=outbox,
                processed=processed,
                make_handler=make_handler,
            ) as runtime:
                # Among the runtime's tasks, so that readiness watches them and they are
                # cancelled with the consume loop.
                runtime.tasks.extend(
                    asyncio.create_task(job.run(runtime), name=job.name) for job in jobs
                )
                app.state.sessions = runtime.sessions
                app.state.runtime = runtime
                app.state.known_tokens = TokenStore(runtime.sessions, tokens).known
                yield
        finally:
            for close in on_close:
                with suppress(Exception):
                    await close()

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_docs(app)

    async def readiness() -> dict[str, bool]:
        runtime: ConsumerRuntime = app.state.runtime
        return await runtime.readiness()

    install_problem_handlers(app)
    app.include_router(operations_router(readiness))
    include_protected(app, routers)
    return app


def include_protected(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Every API route needs a token: read scope to read, admin scope for the rest; then its
    text inputs must be storable (checked before any route's code runs)."""
    for router in routers:
        app.include_router(
            router,
            dependencies=[Depends(require_by_method()), Depends(refuse_unstorable_text)],
        )

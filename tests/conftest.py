from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from leadpipe.cli.tokens import add_token
from leadpipe.localstack.repo import repo_root
from leadpipe.shared import migrate
from leadpipe.shared.auth import Scope, issue_token
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.kafka import ensure_topics
from leadpipe.shared.settings import Settings
from tests.infrastructure import Infrastructure, infrastructure

# One pseudonym key for the tests and every service process they start (which inherit this
# environment), as `leadpipe up` hands one key to all services.
os.environ.setdefault("LEADPIPE_PSEUDONYM_KEY", secrets.token_hex(32))


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    with infrastructure() as found:
        migrate.upgrade(repo_root(), found.database_url)
        yield found


@pytest.fixture(scope="session")
def settings(infra: Infrastructure) -> Settings:
    return Settings(
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=infra.database_url,
        topic_prefix=infra.topic_prefix,
    )


@pytest.fixture(scope="session")
async def topics_created(settings: Settings) -> None:
    await ensure_topics(
        settings.kafka_bootstrap,
        settings.topics.all(),
        partitions=settings.topic_partitions,
        replication_factor=1,
        retention_ms=settings.topic_retention_ms,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
async def api_token(settings: Settings) -> str:
    """An admin token for the services' APIs, stored as `leadpipe token add` stores it."""
    token = issue_token(f"tests-{uuid.uuid4().hex[:8]}", Scope.ADMIN)
    await add_token(settings.database_url, token)
    return token.token


@pytest.fixture(scope="session")
def api_headers(api_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token}"}

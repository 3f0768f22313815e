"""Where the CLI's local stack lives and how the services reach Kafka and PostgreSQL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadpipe.ingest.adapters.secret_box import key_from_file
from leadpipe.localstack.repo import repo_root
from leadpipe.localstack.stack import LocalStack
from leadpipe.shared.privacy import Pseudonyms
from leadpipe.shared.settings import Settings

KAFKA_ENV = "LEADPIPE_KAFKA_BOOTSTRAP"
DATABASE_ENV = "LEADPIPE_DATABASE_URL"
SECRETS_KEY_ENV = "LEADPIPE_SECRETS_KEY"


class StackSettings(BaseSettings):
    """Ports of the local Kafka and PostgreSQL that ``leadpipe up`` starts."""

    model_config = SettingsConfigDict(env_prefix="LEADPIPE_")

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    postgres_port: int = 5432
    state_dir: Path | None = None


@dataclass(frozen=True)
class Environment:
    """Settings for the services, and the local stack when this CLI runs its own."""

    settings: Settings
    state_dir: Path
    stack: LocalStack | None

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def service_env(self) -> dict[str, str]:
        """The environment the three services are started with."""
        env = dict(os.environ)
        env[KAFKA_ENV] = self.settings.kafka_bootstrap
        env[DATABASE_ENV] = self.settings.database_url
        env[SECRETS_KEY_ENV] = secrets_key(self)
        return env


def secrets_key(env: Environment) -> str:
    """LEADPIPE_SECRETS_KEY, or the local stack's key in .leadpipe/secrets.key (created once)."""
    if env.settings.secrets_key is not None:
        return env.settings.secrets_key.get_secret_value()
    return key_from_file(env.state_dir / "secrets.key")


def pseudonyms_of(env: Environment) -> Pseudonyms:
    """The record-key pseudonyms the services started by ``leadpipe up`` use."""
    settings = env.settings
    if settings.pseudonym_key is None and settings.secrets_key is None:
        settings = settings.model_copy(update={"secrets_key": SecretStr(secrets_key(env))})
    return Pseudonyms.from_settings(settings)


def load_environment() -> Environment:
    stack_settings = StackSettings()
    state_dir = stack_settings.state_dir or repo_root() / ".leadpipe"
    stack = None
    settings = Settings()
    if not (KAFKA_ENV in os.environ and DATABASE_ENV in os.environ):
        stack = LocalStack(
            root=state_dir / "stack",
            kafka_port=stack_settings.kafka_port,
            kafka_controller_port=stack_settings.kafka_controller_port,
            postgres_port=stack_settings.postgres_port,
            cache_dir=state_dir / "cache",
            with_kafka=KAFKA_ENV not in os.environ,
            with_postgres=DATABASE_ENV not in os.environ,
        )
        overrides: dict[str, str] = {}
        if KAFKA_ENV not in os.environ:
            overrides["kafka_bootstrap"] = stack.kafka_bootstrap
        if DATABASE_ENV not in os.environ:
            overrides["database_url"] = stack.database_url
        settings = settings.model_copy(update=overrides)
    return Environment(settings=settings, state_dir=state_dir, stack=stack)

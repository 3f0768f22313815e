"""Settings read from the environment (``LEADPIPE_*``); read once, in each composition root."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadpipe.shared.topics import Topics

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://leadpipe:leadpipe@127.0.0.1:5432/leadpipe"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPIPE_", env_nested_delimiter="__")

    kafka_bootstrap: str = DEFAULT_KAFKA_BOOTSTRAP
    database_url: str = DEFAULT_DATABASE_URL
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name, so that several installations or test runs "
        "can share one broker.",
    )
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    host: str = "127.0.0.1"
    ingest_port: int = 8000
    scoring_port: int = 8001
    routing_port: int = 8002
    kafka_ack_timeout_s: float = Field(
        default=5.0, gt=0, description="How long ingest waits for Kafka before answering 503."
    )
    log_level: str = "INFO"
    event_retention_days: int = Field(
        default=365,
        ge=1,
        description="Scoring keeps raw inbound events (for what-if replays) this many days.",
    )

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

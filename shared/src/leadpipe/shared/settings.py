"""Settings read from the environment (``LEADPIPE_*``); read once, in each composition root."""

from __future__ import annotations

from pydantic import Field, SecretStr
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
    request_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a client may take to send a whole request (headers and body) "
        "from its first byte; a slower one gets 408 and its connection is closed.",
    )
    ingest_url: str | None = Field(
        default=None,
        description="Where scoring reaches ingest's internal subject-key API; unset: "
        "http://{host}:{ingest_port}.",
    )
    kafka_ack_timeout_s: float = Field(
        default=5.0, gt=0, description="How long ingest waits for Kafka before answering 503."
    )
    log_level: str = "INFO"
    event_retention_days: int = Field(
        default=365,
        ge=1,
        description="Scoring keeps raw inbound events (for what-if replays) this many days.",
    )
    outbox_retention_days: int = Field(
        default=7,
        ge=1,
        description="Scoring and routing keep published outbox rows this many days (the newest "
        "of each topic partition always). Processed event ids are kept as long as the topics "
        "keep their records, plus a day.",
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) that encrypts the webhook secrets "
        "ingest must keep to verify signatures. `leadpipe up` creates one under .leadpipe/.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC that turns lead keys (emails, user ids) into the record "
        "keys on every topic. Unset: derived from secrets_key. Changing it re-keys new records "
        "(one lead's old and new records may then sit on different partitions).",
    )
    public_base_url: str | None = Field(
        default=None,
        description="ingest's URL as senders see it (behind a proxy); HubSpot signs that URL.",
    )
    source_refresh_s: float = Field(
        default=2.0, gt=0, description="How often ingest reloads its sources from PostgreSQL."
    )
    source_rate_per_s: float = Field(
        default=1000.0, gt=0, description="Events per second each source may send."
    )
    source_rate_burst: int = Field(
        default=2000, ge=1, description="Events a source may send at once above its rate."
    )

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

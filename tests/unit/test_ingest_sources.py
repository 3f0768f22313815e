"""The source registry ingest answers from: which credential opens which door."""

from datetime import UTC, datetime

from cryptography.fernet import Fernet

from leadpipe.ingest.adapters.orm import SourceRow
from leadpipe.ingest.adapters.secret_box import SecretBox
from leadpipe.ingest.adapters.source_cache import asyncpg_dsn
from leadpipe.ingest.adapters.source_store import as_source
from leadpipe.ingest.domain.sources import Source, SourceKind, SourceRegistry, key_hash


def test_a_write_key_finds_its_segment_source_but_a_webhook_token_is_no_write_key() -> None:
    registry = SourceRegistry.of(
        [
            Source("web", SourceKind.SEGMENT, key_hash=key_hash("write-key")),
            Source("mailchimp", "webhook", key_hash=key_hash("token")),
        ]
    )
    found = registry.by_write_key("write-key")
    assert found is not None and found.name == "web"
    assert registry.by_write_key("token") is None
    assert registry.named("mailchimp", "webhook", "hubspot") is not None
    assert registry.named("web", "webhook", "hubspot") is None


def _row(sealed: str | None = None, revoked: bool = False) -> SourceRow:
    return SourceRow(
        name="crm",
        kind="webhook",
        key_hash=None,
        secret_encrypted=sealed,
        options={},
        revoked_at=datetime(2026, 11, 25, tzinfo=UTC) if revoked else None,
    )


def test_a_sealed_secret_opens_only_with_the_key_it_was_sealed_with() -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretBox(key).seal("whsec_c2VjcmV0")
    assert "whsec" not in sealed
    opened = as_source(_row(sealed), SecretBox(key))
    assert opened is not None and opened.secret == "whsec_c2VjcmV0"
    # With another key or none, the source is refused rather than checked with garbage.
    assert as_source(_row(sealed), SecretBox(other)) is None
    assert as_source(_row(sealed), SecretBox(None)) is None


def test_a_revoked_source_is_not_in_the_registry() -> None:
    assert as_source(_row(revoked=True), SecretBox(None)) is None


def test_the_listening_connection_uses_the_database_url_as_asyncpg_reads_it() -> None:
    assert (
        asyncpg_dsn("postgresql+asyncpg://leadpipe:p%40ss@db.internal:5433/leadpipe")
        == "postgresql://leadpipe:p%40ss@db.internal:5433/leadpipe"
    )

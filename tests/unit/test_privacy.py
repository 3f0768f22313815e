"""Pseudonymous record keys: stable per lead key, unreadable without the key."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from leadpipe.shared.privacy import PseudonymKeyMissing, Pseudonyms, service_token
from leadpipe.shared.settings import Settings


def test_the_same_lead_key_gets_the_same_record_key_and_another_lead_another() -> None:
    pseudonyms = Pseudonyms(b"k" * 32)
    first = pseudonyms.of("erika@musterfirma.example")
    assert first == Pseudonyms(b"k" * 32).of("erika@musterfirma.example")
    assert first != pseudonyms.of("max@musterfirma.example")
    assert "erika" not in first and "musterfirma" not in first


def test_the_record_key_depends_on_the_secret() -> None:
    assert Pseudonyms(b"a" * 32).of("u-1") != Pseudonyms(b"b" * 32).of("u-1")


def test_the_key_is_derived_from_the_secrets_key_unless_one_is_given() -> None:
    derived = Pseudonyms.from_settings(
        Settings(secrets_key=SecretStr("fernet-key"), pseudonym_key=None)
    )
    assert derived.of("u-1") == Pseudonyms.from_settings(
        Settings(secrets_key=SecretStr("fernet-key"), pseudonym_key=None)
    ).of("u-1")
    own = Pseudonyms.from_settings(
        Settings(secrets_key=SecretStr("fernet-key"), pseudonym_key=SecretStr("p" * 32))
    )
    assert own.of("u-1") != derived.of("u-1")


def test_the_service_token_is_never_a_record_key() -> None:
    settings = Settings(secrets_key=SecretStr("fernet-key"), pseudonym_key=None)
    token = service_token(settings)
    assert token == service_token(settings)
    assert token.removeprefix("lps_") not in {
        Pseudonyms.from_settings(settings).of(label)
        for label in ("leadpipe service token v1", "leadpipe record-key pseudonyms v1")
    }


def test_no_key_at_all_is_refused_rather_than_guessed() -> None:
    with pytest.raises(PseudonymKeyMissing):
        Pseudonyms.from_settings(Settings(secrets_key=None, pseudonym_key=None))

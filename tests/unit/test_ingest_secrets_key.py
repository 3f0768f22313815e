"""The local stack's secrets key: created once, private, and handed to the services."""

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from leadpipe.cli.config import load_environment


def test_leadpipe_up_hands_the_services_one_lasting_secrets_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPIPE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("LEADPIPE_SECRETS_KEY", raising=False)
    first = load_environment().service_env()["LEADPIPE_SECRETS_KEY"]
    again = load_environment().service_env()["LEADPIPE_SECRETS_KEY"]
    assert first == again
    key_file = tmp_path / "secrets.key"
    assert key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(first.encode())  # a usable key


def test_a_configured_secrets_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("LEADPIPE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LEADPIPE_SECRETS_KEY", key)
    assert load_environment().service_env()["LEADPIPE_SECRETS_KEY"] == key
    assert not (tmp_path / "secrets.key").exists()

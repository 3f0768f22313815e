"""Encryption at rest of the HMAC secrets ingest must keep in clear to verify signatures."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretsKeyMissing(RuntimeError):
    pass


class SecretBox:
    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    def _box(self) -> Fernet:
        if self._fernet is None:
            raise SecretsKeyMissing(
                "LEADPIPE_SECRETS_KEY is not set; it is needed to keep webhook secrets"
            )
        return self._fernet

    def seal(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The secret, or None when this key cannot decrypt it (a different or no key)."""
        if self._fernet is None:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


def key_from_file(path: Path) -> str:
    """The local stack's secrets key, created on first use (readable by the owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(Fernet.generate_key().decode())
    return path.read_text().strip()

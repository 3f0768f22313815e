"""Crypto-shredding: a person's events are sealed under a data key of their own, so that
deleting that key makes every copy unreadable, wherever the copies are (topic segments, dead
letters, backups of either).

AES-256-GCM with a random 96-bit nonce per event; the subject (the record key) is bound in as
associated data, so a sealed payload moved under another subject does not open."""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DATA_KEY_BYTES = 32
_NONCE_BYTES = 12


class Unreadable(ValueError):
    """A sealed payload that does not open with the key given: wrong key, or tampered with."""


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


@lru_cache(maxsize=4096)
def _cipher(data_key: bytes) -> AESGCM:
    # Expanding the key costs more than sealing a small event; busy subjects keep theirs.
    return AESGCM(data_key)


def seal(data_key: bytes, subject: str, plaintext: bytes) -> str:
    """``plaintext`` sealed for ``subject``, as base64 text (it travels inside JSON)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(data_key).encrypt(nonce, plaintext, subject.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(data_key: bytes, subject: str, sealed: str) -> bytes:
    try:
        raw = base64.b64decode(sealed, validate=True)
        if len(raw) <= _NONCE_BYTES:
            raise Unreadable("sealed payload too short")
        return _cipher(data_key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], subject.encode())
    except (InvalidTag, ValueError) as exc:
        if isinstance(exc, Unreadable):
            raise
        raise Unreadable(f"sealed payload does not open: {type(exc).__name__}") from exc

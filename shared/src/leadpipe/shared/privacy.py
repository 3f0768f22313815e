"""Identifying a person without keeping their identity: the hash behind suppression entries
and erasure receipts, and the pseudonymous record keys of every topic."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache, lru_cache

from leadpipe.shared.settings import Settings

# Each use of the root secret gets a key of its own, derived under its label: a record key
# (public) must never equal the service token (secret), whatever lead key someone sends.
_PSEUDONYM_LABEL = b"leadpipe record-key pseudonyms v1"
_SERVICE_TOKEN_LABEL = b"leadpipe service token v1"


class PseudonymKeyMissing(RuntimeError):
    pass


def subject_hash(email: str) -> str:
    """A stable pseudonym of an email address (trimmed, lower-cased), for suppression lists
    and receipts. It is not anonymous to someone who already knows the address, which is the
    point: an event for that address can be recognised and dropped."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def identifier_hash(kind: str, value: str) -> str:
    """A suppression entry for an identifier other than an email (a user id, an anonymous
    id): the kind is part of the hash, so a user id equal to someone's anonymous id stays
    apart."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


class Pseudonyms:
    """Lead key → record key: a keyed HMAC-SHA256, so the same lead always lands on the same
    partition (ordering per lead holds) while the key names nobody to whoever reads the topic
    without the secret; unlike a plain hash, a known email cannot be tried against it."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonym key must have at least 16 bytes")
        self._secret = secret
        self.of = lru_cache(maxsize=65536)(self._compute)

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonyms:
        return cls(_derived(settings, _PSEUDONYM_LABEL))

    def _compute(self, lead_key: str) -> str:
        return hmac.new(self._secret, lead_key.encode(), "sha256").hexdigest()


def _derived(settings: Settings, label: bytes) -> bytes:
    if settings.pseudonym_key is not None:
        root = settings.pseudonym_key.get_secret_value()
    elif settings.secrets_key is not None:
        root = settings.secrets_key.get_secret_value()
    else:
        raise PseudonymKeyMissing(
            "neither LEADPIPE_PSEUDONYM_KEY nor LEADPIPE_SECRETS_KEY is set; one of them keys "
            "the pseudonymous record keys on the topics (`leadpipe up` creates the latter)"
        )
    return hmac.new(root.encode(), label, "sha256").digest()


def service_token(settings: Settings) -> str:
    """The bearer token the services present to each other's internal APIs (the subject-key
    look-up on ingest): every service and the CLI derive it from the key they share."""
    return "lps_" + _derived(settings, _SERVICE_TOKEN_LABEL).hex()


@cache
def pseudonyms() -> Pseudonyms:
    """The process's pseudonyms, from its environment (every service has the same key)."""
    return Pseudonyms.from_settings(Settings())


def record_key(lead_key: str) -> str:
    """The record key for ``lead_key`` on every topic, and the ``lead_key`` that
    ``lead.stage-changed.v1`` and ``lead.routed.v1`` carry."""
    return pseudonyms().of(lead_key)

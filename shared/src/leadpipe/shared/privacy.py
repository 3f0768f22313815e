"""Identifying a person without keeping their identity: the hash behind suppression entries
and erasure receipts."""

from __future__ import annotations

import hashlib


def subject_hash(email: str) -> str:
    """A stable pseudonym of an email address (trimmed, lower-cased), for suppression lists
    and receipts. It is not anonymous to someone who already knows the address, which is the
    point: an event for that address can be recognised and dropped."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()

"""Ids for the rows and events the consumer makes by the thousand: new leads, stage moves."""

from __future__ import annotations

import random

_VERSION_4 = 0x4 << 76  # the version nibble of a random (version 4) UUID
_RFC_4122 = 0x2 << 62  # its variant bits
_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


def new_id() -> str:
    """A version 4 UUID in its usual text form.

    From the PRNG, as trace ids are (and as OpenTelemetry makes its ids), rather than a system
    call per id as ``uuid.uuid4()`` makes: these ids have to be unique, not secret, and
    ``uuid4`` cost a few percent of the consumer's CPU per event (measured). The module's
    generator is seeded from the OS and seeded anew in a forked child; the tables' unique keys
    turn an improbable repeat into a retried batch, never into two rows with one id."""
    value = (random.getrandbits(128) & _KEEP) | _VERSION_4 | _RFC_4122
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

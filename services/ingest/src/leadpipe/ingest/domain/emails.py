"""Email normalisation: the one normalised form of an address that keys a lead.

``email-validator`` decides what is valid. Its per-character IDNA/UTS-46 checks of the domain
are a large share of a form post's CPU, so the plain ASCII address nearly every lead types is
recognised by a strict pattern first, at a small part of that cost. The pattern
accepts only addresses the library certainly accepts and normalises to the input lower-cased;
everything else goes to the library. tests/unit/test_ingest_emails.py holds the two paths
equal by a property test.
"""

from __future__ import annotations

import re

import email_validator
from email_validator import EmailNotValidError, validate_email

from leadpipe.ingest.domain.refusals import FieldError

__all__ = ["fast_normalised", "normalise_email"]

# The library's own limit on the whole address (EMAIL_MAX_LENGTH); its domain limit of 253
# follows from it, as a local part has at least one character.
_MAX_ADDRESS = 254
# The library checks 64 only in strict mode; longer local parts are left to it either way.
_MAX_LOCAL = 64

# RFC 5322 atext: the library returns a dot-atom of these characters unchanged.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# An LDH label. The lookahead refuses a hyphen pair in third and fourth place: the library
# rejects such labels (RFC 5890 R-LDH), except "xn--" ones, which it decodes to Unicode, so
# the normalised domain would not be the input lower-cased.
_LABEL = r"(?![A-Za-z0-9-]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The library wants a period and a final letter (no numeric TLDs); a letters-only last label
# is stricter still.
_TLD = r"[A-Za-z]{2,63}"
# No re.IGNORECASE: with it, [a-z] also matches the Kelvin sign and the long s.
_PLAIN_ADDRESS = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+{_TLD})")


def fast_normalised(address: str) -> str | None:
    """The normalised form of a plain ASCII ``address``, or None if the library must decide."""
    if len(address) > _MAX_ADDRESS:
        return None
    # fullmatch: a pattern ending in $ would let a trailing newline through.
    matched = _PLAIN_ADDRESS.fullmatch(address)
    if matched is None or len(matched[1]) > _MAX_LOCAL:
        return None
    domain = matched[2].lower()
    # A setting callers may change at runtime, so read it on every call, and compare it as
    # the library does: against the lower-cased domain.
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return address.lower()


def normalise_email(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError("email", "is required")
    address = raw.strip()
    fast = fast_normalised(address)
    if fast is not None:
        return fast
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldError("email", str(exc)) from exc
    return checked.normalized.lower()

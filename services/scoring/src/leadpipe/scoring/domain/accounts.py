"""Accounts by email domain; free-mail domains never form an account."""

from __future__ import annotations

FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.de",
        "live.com",
        "live.de",
        "msn.com",
        "yahoo.com",
        "yahoo.de",
        "icloud.com",
        "me.com",
        "aol.com",
        "aol.de",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "gmx.ch",
        "web.de",
        "t-online.de",
        "freenet.de",
        "posteo.de",
        "mailbox.org",
        "arcor.de",
        "1und1.de",
        "online.de",
        "bluewin.ch",
        "hispeed.ch",
        "aon.at",
        "chello.at",
        "a1.net",
    }
)


def account_domain(email: str | None) -> str | None:
    """The company domain of ``email``, or None for free-mail and malformed addresses."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    if not domain or "." not in domain or domain in FREE_MAIL:
        return None
    return domain

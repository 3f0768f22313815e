"""Accounts by email domain; free-mail domains never form an account."""

from __future__ import annotations

from typing import Any

# What a ``group`` call may keep on an account: facts about the company. Anything else (a
# caller's email, names, phone) would outlive the person's erasure while a colleague's lead
# keeps the account, so it is not kept at all.
COMPANY_TRAITS = frozenset(
    {
        "name",
        "industry",
        "employees",
        "company_size",
        "website",
        "domain",
        "plan",
        "description",
        "country",
        "region",
        "city",
        "created_at",
        "createdAt",
    }
)

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


def company_traits(traits: dict[str, Any]) -> dict[str, Any]:
    """The company attributes of a ``group`` call's traits; plain values only."""
    return {
        name: value
        for name, value in traits.items()
        if name in COMPANY_TRAITS and (value is None or isinstance(value, str | int | float | bool))
    }

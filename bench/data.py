"""Generated leads and form posts: one fixed seed gives the same data on every run."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

DEFAULT_SEED = 20261125

FIRST_NAMES = ("Max", "Erika", "Jonas", "Lena", "Paul", "Mia", "Felix", "Hannah", "Lukas", "Emma")
LAST_NAMES = ("Mustermann", "Schmidt", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Koch")
INDUSTRIES = ("Maschinenbau", "Logistik", "Software", "Handel", "Chemie", "Energie")
COUNTRIES = ("DE", "AT", "CH", "NL", "FR")
DECISION_TITLES = ("Geschäftsführer", "CTO", "Head of IT", "VP Sales", "Inhaberin")
OTHER_TITLES = ("Werkstudent", "Sachbearbeiterin", "Entwickler", "Einkäufer")


@dataclass(frozen=True)
class FormPost:
    """A ``POST /v1/forms/{form_id}`` body, and what the first rules will make of it."""

    form_id: str
    fields: dict[str, Any]
    routed: bool  # a demo request by a decision maker with budget: reaches SQL and is routed

    @property
    def email(self) -> str:
        email: str = self.fields["email"]
        return email


def _rng(seed: int, stream: str) -> random.Random:
    # One stream per phase: phases never reuse each other's leads, and each is reproducible.
    return random.Random(f"{seed}:{stream}")


def _fields(rng: random.Random, email: str, *, routed: bool, hand_raiser: bool) -> dict[str, Any]:
    title = rng.choice(DECISION_TITLES if routed else DECISION_TITLES + OTHER_TITLES)
    return {
        "email": email,
        "first_name": rng.choice(FIRST_NAMES),
        "last_name": rng.choice(LAST_NAMES),
        "company": f"{rng.choice(LAST_NAMES)} {rng.choice(INDUSTRIES)} GmbH",
        "title": title,
        "industry": rng.choice(INDUSTRIES),
        "country": rng.choice(COUNTRIES),
        "company_size": rng.randint(5, 5000),
        "budget": "yes" if routed else rng.choice(("yes", "no", "unknown")),
        "message": "Bitte um Rückruf." if hand_raiser else "",
        "consent": {"purpose": "sales_contact", "text_version": "2026-01"},
    }


def routed_posts(seed: int, stream: str, count: int) -> list[FormPost]:
    """Posts that each end as an assignment on ``lead.routed.v1`` (new lead, demo, BANT)."""
    rng = _rng(seed, stream)
    return [
        FormPost(
            "demo-request",
            _fields(rng, f"{stream}.{i}@bench.example", routed=True, hand_raiser=True),
            True,
        )
        for i in range(count)
    ]


def mixed_posts(seed: int, stream: str, count: int, *, repeat_share: float = 0.2) -> list[FormPost]:
    """A day's form posts: half routed demo requests, a third hand-raisers that stop at MQL, the rest
    newsletter sign-ups; ``repeat_share`` of the posts come from a lead that posted before."""
    rng = _rng(seed, stream)
    posts: list[FormPost] = []
    for i in range(count):
        if posts and rng.random() < repeat_share:
            email = rng.choice(posts).email
        else:
            email = f"{stream}.{i}@bench.example"
        kind = rng.random()
        routed, hand_raiser = kind < 0.5, kind < 0.83
        form_id = "demo-request" if hand_raiser else "newsletter"
        posts.append(
            FormPost(form_id, _fields(rng, email, routed=routed, hand_raiser=hand_raiser), routed)
        )
    return posts


def event_ids(seed: int, stream: str, count: int) -> list[str]:
    rng = _rng(seed, f"{stream}:ids")
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def seeded_email(index: int) -> str:
    return f"seeded.{index}@bench.example"


def scale_posts(seed: int, stream: str, count: int, *, existing: int) -> list[FormPost]:
    """Mixed posts of which half come from one of ``existing`` pre-seeded leads."""
    rng = _rng(seed, f"{stream}:who")
    posts = []
    for post in mixed_posts(seed, stream, count, repeat_share=0.0):
        if rng.random() < 0.5:
            post = FormPost(
                post.form_id,
                {**post.fields, "email": seeded_email(rng.randrange(existing))},
                post.routed,
            )
        posts.append(post)
    return posts


@dataclass(frozen=True)
class TrackingCall:
    """A Segment call (``page``, ``track`` or ``identify``) as analytics.js would send it."""

    call: dict[str, Any]


PAGES = ("/", "/produkt", "/blog/lead-scoring", "/docs/start", "/pricing", "/karriere")
TRACKED = ("Email Opened", "Email Link Clicked", "Webinar Registered", "Webinar Attended")


def day_of_traffic(
    seed: int, stream: str, count: int, *, form_share: float = 0.1
) -> list[FormPost | TrackingCall]:
    """What a B2B site's pipeline sees in a day, in this order of frequency: page views (about
    two thirds), tracked email and webinar events, a few identify calls, and ``form_share`` of
    form posts (:func:`mixed_posts`). Tracking calls come from the people who posted a form
    earlier in the stream (by ``userId``, their email) and from anonymous visitors, some of
    whom identify later and so are merged into a known lead."""
    rng = _rng(seed, f"{stream}:traffic")
    forms = iter(mixed_posts(seed, stream, count))
    known: list[str] = []
    visitors = [f"{stream}-visitor-{i}" for i in range(max(1, count // 20))]
    traffic: list[FormPost | TrackingCall] = []
    for _ in range(count):
        kind = rng.random()
        if kind < form_share or not known:
            post = next(forms)
            known.append(post.email)
            traffic.append(post)
            continue
        who: dict[str, Any]
        if rng.random() < 0.6:
            email = rng.choice(known)
            who = {"userId": email, "context": {"traits": {"email": email}}}
        else:
            who = {"anonymousId": rng.choice(visitors)}
        if kind < form_share + 0.05 and "anonymousId" in who:
            email = f"{who['anonymousId']}@bench.example"
            who |= {"userId": email, "traits": {"email": email, "company": "Bench GmbH"}}
            known.append(email)
            traffic.append(TrackingCall({"type": "identify", **who}))
        elif kind < form_share + 0.25:
            traffic.append(TrackingCall({"type": "track", "event": rng.choice(TRACKED), **who}))
        else:
            url = f"https://bench.example{rng.choice(PAGES)}"
            traffic.append(TrackingCall({"type": "page", "properties": {"url": url}, **who}))
    return traffic

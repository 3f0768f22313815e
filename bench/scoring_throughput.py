"""How many inbound events per second scoring applies to PostgreSQL, batch by batch.

Runs the consumer's batch path (decode excluded: events are built in memory) on a real,
migrated PostgreSQL: the one named by LEADPIPE_DATABASE_URL, or a throwaway local stack.

    .venv/bin/python -m bench.scoring_throughput --leads 2000 --events-per-lead 5
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from leadpipe.localstack.repo import repo_root
from leadpipe.scoring.handlers import apply_batch
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.shared import migrate
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.events import Identity, InboundEvent
from leadpipe.shared.topics import Topics
from tests.infrastructure import infrastructure

PAGES = ["/pricing", "/produkt", "/blog/industrie-4-0", "/karriere", "/preise"]


def history(leads: int, per_lead: int) -> list[InboundEvent]:
    start = datetime.now(UTC) - timedelta(days=30)
    events: list[InboundEvent] = []
    emails = [f"bench.{uuid.uuid4().hex[:10]}@firma{n % 997}.example" for n in range(leads)]
    for step in range(per_lead):
        for n, email in enumerate(emails):
            at = start + timedelta(hours=step * 24 + n % 24)
            if step == 0:
                name, traits, properties = (
                    "form_submitted",
                    {
                        "email": email,
                        "title": "Leiter Einkauf",
                        "company_size": 80 + n % 900,
                        "industry": "Maschinenbau",
                        "country": "DE",
                    },
                    {"form_id": "whitepaper", "asset_type": "whitepaper"},
                )
            else:
                name, traits, properties = "page", {}, {"url": PAGES[(n + step) % len(PAGES)]}
            events.append(
                InboundEvent(
                    event_id=str(uuid.uuid4()),
                    occurred_at=at,
                    received_at=at,
                    name=name,
                    lead_key=email,
                    source="bench",
                    identity=Identity(email=email),
                    traits=traits,
                    properties=properties,
                )
            )
    return events


async def measure(database_url: str, leads: int, per_lead: int, batch_size: int) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    rules = default_rules()
    topics = Topics.with_prefix("bench.")
    events = history(leads, per_lead)
    started = time.perf_counter()
    for offset in range(0, len(events), batch_size):
        async with sessions() as session, session.begin():
            await apply_batch(
                session, events[offset : offset + batch_size], rules, topics, datetime.now(UTC)
            )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    print(
        f"{len(events)} events ({leads} leads × {per_lead}) in batches of {batch_size}: "
        f"{elapsed:.1f} s, {len(events) / elapsed:.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--events-per-lead", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    with infrastructure() as infra:
        migrate.upgrade(repo_root(), infra.database_url)
        asyncio.run(measure(infra.database_url, args.leads, args.events_per_lead, args.batch_size))


if __name__ == "__main__":
    main()

"""What-if replay rate: the stored event history replayed under draft rules, through the same
adapter `leadpipe rules simulate` uses, beside the pure domain fold over the same events held
in memory (what the database reading and decoding cost on top)."""

from __future__ import annotations

import time
from collections import defaultdict

from sqlalchemy import func, select

from bench.plan import Plan
from bench.report import Figure
from bench.stack import BenchStack
from bench.stats import median
from leadpipe.scoring.adapters.lead_histories import LeadHistories
from leadpipe.scoring.adapters.orm import InboundEventRow
from leadpipe.scoring.domain.whatif import replay
from leadpipe.scoring.rules.loader import default_rules
from leadpipe.scoring.service.whatif import what_if
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.events import InboundEvent


async def whatif(stack: BenchStack, plan: Plan) -> list[Figure]:
    """Needs the scoring phase first: it leaves the event history this replays."""
    rules = default_rules()
    engine = make_engine(stack.database_url, pool_size=1)
    samples: dict[str, list[float]] = {"leadpipe": [], "baseline": []}
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            events = int(
                await session.scalar(select(func.count()).select_from(InboundEventRow)) or 0
            )
            rows = (
                await session.execute(
                    select(InboundEventRow.lead_id, InboundEventRow.payload).order_by(
                        InboundEventRow.lead_id, InboundEventRow.occurred_at, InboundEventRow.seq
                    )
                )
            ).all()
        history: dict[str, list[InboundEvent]] = defaultdict(list)
        for lead_id, payload in rows:
            history[lead_id].append(InboundEvent.model_validate(payload))
        for _ in range(plan.repeats):
            async with sessions() as session, session.begin():
                started = time.perf_counter()
                await what_if(await LeadHistories.of(session), rules)
                samples["leadpipe"].append(events / (time.perf_counter() - started))
            started = time.perf_counter()
            for lead_events in history.values():
                replay(lead_events, rules)
            samples["baseline"].append(events / (time.perf_counter() - started))
    finally:
        await engine.dispose()
    return [
        Figure(
            id="whatif.replay",
            figure=f"what-if replay events/s ({events} stored events, {len(history)} leads)",
            unit="ev/s",
            leadpipe=median(samples["leadpipe"]),
            baseline=median(samples["baseline"]),
            baseline_name="pure domain fold over the same events, already in memory",
            target="≥ 20,000 ev/s",
            limited_by="one process's CPU: validating each stored event into its model and "
            "folding it; reading the history from PostgreSQL is the rest",
            samples=samples,
        )
    ]

"""How much each mode measures. Quick stays under two minutes on a 2-core machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    repeats: int  # every throughput figure is the median of this many runs
    http_warmup_s: float
    http_duration_s: float
    single_connections: int  # keep-alive connections for the single-event request rate
    concurrent_posts: int  # requests in flight for the many-concurrent-posts figure
    consumer_events: int  # events per run through the scoring and routing consumers
    e2e_rates: tuple[int, ...]  # fixed offered rates (leads/s) reported one row each
    e2e_ladder: tuple[int, ...]  # further rates tried for the highest sustained one
    e2e_duration_s: float
    e2e_drain_s: float  # how long to wait for the last assignments after the last post
    e2e_settle_s: float  # how long a backlog from the rate before may take to clear
    scale_sizes: tuple[int, ...]  # leads pre-seeded for the scale figure (full mode only)
    scale_events: int


QUICK = Plan(
    name="quick",
    repeats=3,
    http_warmup_s=0.5,
    http_duration_s=1.5,
    single_connections=64,
    concurrent_posts=256,
    consumer_events=300,
    e2e_rates=(50, 200),
    e2e_ladder=(),
    e2e_duration_s=3.0,
    e2e_drain_s=5.0,
    e2e_settle_s=20.0,
    scale_sizes=(),
    scale_events=0,
)

FULL = Plan(
    name="full",
    repeats=5,
    http_warmup_s=1.0,
    http_duration_s=5.0,
    single_connections=64,
    concurrent_posts=256,
    consumer_events=2000,
    e2e_rates=(50, 200, 500),
    e2e_ladder=(100, 300, 400, 600, 800, 1000),
    e2e_duration_s=15.0,
    e2e_drain_s=15.0,
    e2e_settle_s=60.0,
    scale_sizes=(10_000, 100_000, 1_000_000),
    scale_events=1000,
)

PLANS = {plan.name: plan for plan in (QUICK, FULL)}

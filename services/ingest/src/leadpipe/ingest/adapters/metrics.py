"""ingest's Prometheus metrics (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACCEPTED = Counter(
    "leadpipe_ingest_events_accepted", "Events acknowledged by Kafka, per source.", ["source"]
)
REFUSED = Counter(
    "leadpipe_ingest_requests_refused",
    "Requests refused, per source and reason.",
    ["source", "reason"],
)
PRODUCE_SECONDS = Histogram(
    "leadpipe_ingest_produce_seconds",
    "Time from send to Kafka's acknowledgement, per request (a batch is sent together).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SUPPRESSED = Counter(
    "leadpipe_ingest_events_suppressed",
    "Events accepted but not published: their person was erased (their key is shredded).",
    ["source"],
)

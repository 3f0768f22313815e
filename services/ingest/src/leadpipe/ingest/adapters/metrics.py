"""ingest's Prometheus metrics (served on /metrics).

Every label value is one of a bounded set: a series per value is kept for the process's life,
and a public form endpoint takes any form id. Events of forms nobody registered share one
source label; refusals are labelled by the request's known source and the refusal's code."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Histogram

UNREGISTERED_FORMS = "form:unregistered"


def _authenticated(source: str) -> bool:
    """Until the registry is known: only sources that authenticated (all but forms)."""
    return not source.startswith("form:")


class BySource:
    """A counter labelled by event source, with a series of its own only for registered
    sources; ``labels`` as prometheus_client's."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._registered: Callable[[str], bool] = _authenticated

    def only_registered(self, registered: Callable[[str], bool]) -> None:
        """``registered(source)``: whether the event source belongs to a registered source."""
        self._registered = registered

    def labels(self, source: str) -> Counter:
        return self._counter.labels(source if self._registered(source) else UNREGISTERED_FORMS)


ACCEPTED = BySource(
    Counter(
        "leadpipe_ingest_events_accepted", "Events acknowledged by Kafka, per source.", ["source"]
    )
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
SUPPRESSED = BySource(
    Counter(
        "leadpipe_ingest_events_suppressed",
        "Events accepted but not published: their person was erased (their key is shredded).",
        ["source"],
    )
)

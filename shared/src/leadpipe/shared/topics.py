"""Kafka topic names: the one place they are spelled."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    lead_events: str
    lead_events_dlq: str
    stage_changed: str
    routed: str

    @classmethod
    def with_prefix(cls, prefix: str = "") -> Topics:
        return cls(
            lead_events=f"{prefix}lead.events.v1",
            lead_events_dlq=f"{prefix}lead.events.dlq.v1",
            stage_changed=f"{prefix}lead.stage-changed.v1",
            routed=f"{prefix}lead.routed.v1",
        )

    def all(self) -> tuple[str, ...]:
        return (self.lead_events, self.lead_events_dlq, self.stage_changed, self.routed)

"""What routing decides with, besides the state it reads: topics, the SLA policy and which
stages are routed to which role. Built once from the settings in the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from leadpipe.routing.domain.reps import Role
from leadpipe.routing.domain.sla import SlaPolicy
from leadpipe.shared.events import Stage
from leadpipe.shared.topics import Topics


@dataclass(frozen=True)
class RoutingConfig:
    topics: Topics
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    route_mql_to_bdr: bool = False
    # SLA re-assignments before escalation, for pools that do not set their own.
    max_reassignments: int = 2

    def role_for(self, stage: str) -> Role | None:
        """``sql`` goes to AEs; ``mql`` to BDRs only when enabled."""
        if stage == Stage.SQL:
            return "ae"
        if stage == Stage.MQL and self.route_mql_to_bdr:
            return "bdr"
        return None

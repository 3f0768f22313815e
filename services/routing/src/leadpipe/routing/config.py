"""Routing's own settings (``LEADPIPE_ROUTING_*``), read once in the composition root."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadpipe.routing.domain.sla import SlaPolicy
from leadpipe.routing.service.config import RoutingConfig
from leadpipe.shared.topics import Topics


class RoutingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPIPE_ROUTING_")

    route_mql_to_bdr: bool = Field(
        default=False, description="Also route leads entering mql, to BDRs (sql → AEs always)."
    )
    sla_hot_minutes: float = Field(default=5, gt=0, description="First-touch SLA of hot leads.")
    sla_warm_minutes: float = Field(default=60, gt=0, description="First-touch SLA of warm leads.")
    sla_cold_business_days: int = Field(
        default=1, ge=1, description="First-touch SLA of cold leads, in the rep's business days."
    )
    max_reassignments: int = Field(
        default=2,
        ge=0,
        description="SLA breaches re-assigned before the next escalates, unless a pool sets "
        "its own.",
    )
    clock_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often due SLA timers and the fallback queue are checked.",
    )

    def routing_config(self, topics: Topics) -> RoutingConfig:
        return RoutingConfig(
            topics=topics,
            sla=SlaPolicy(
                hot=timedelta(minutes=self.sla_hot_minutes),
                warm=timedelta(minutes=self.sla_warm_minutes),
                cold_business_days=self.sla_cold_business_days,
            ),
            route_mql_to_bdr=self.route_mql_to_bdr,
            max_reassignments=self.max_reassignments,
        )

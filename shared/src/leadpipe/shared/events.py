"""The wire contract: one versioned model per event type.

Models keep fields they do not know (``extra="allow"``) so that a consumer on an older version
passes newer producers' data through instead of dropping it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from leadpipe.shared.lead_attributes import Use


class Stage(StrEnum):
    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    CE_TYPE: ClassVar[str]

    event_id: str
    occurred_at: datetime

    @property
    def ce_type(self) -> str:
        return self.CE_TYPE

    @classmethod
    def carries(cls, ce_type: str) -> bool:
        """Whether a CloudEvent of this type holds this model."""
        return ce_type == cls.CE_TYPE


class Identity(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    email: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None


class Consent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    purpose: str
    granted_at: datetime
    text_version: str


class InboundEvent(WireModel):
    """A normalised inbound event: a form post, a tracking call, a webhook. On
    ``lead.events.v1`` it travels sealed, inside a :class:`SealedInboundEvent`."""

    CE_TYPE: ClassVar[str] = "io.leadpipe.lead.inbound.v1"

    name: str = Field(description="What happened, e.g. form_submitted, track, lead_contacted.")
    lead_key: str = Field(
        description="Who the event is about (email, user id or anon:id); its pseudonym is the "
        "Kafka key, which keeps one lead's events on one partition."
    )
    source: str
    received_at: datetime
    identity: Identity
    # Parsed JSON, as senders sent it. ``Any`` rather than pydantic's ``JsonValue``: that one
    # re-checked every nested value whenever an event was built, about a third of ingest's
    # per-event CPU; what arrives as JSON is JSON, and what is sent is serialised as JSON.
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    consent: Consent | None = None


class SealedInboundEvent(WireModel):
    """On ``lead.events.v1``, as ingest publishes: an :class:`InboundEvent` sealed under its
    subject's data key (see :mod:`leadpipe.shared.sealing`). In clear only what names nobody:
    what happened, from which source, when, and the pseudonymous subject (the record key)."""

    CE_TYPE: ClassVar[str] = "io.leadpipe.lead.inbound.sealed.v1"

    name: str
    source: str
    received_at: datetime
    subject: str = Field(description="The record key: a pseudonym of the lead key.")
    sealed: str = Field(description="base64 of nonce and AES-256-GCM of the InboundEvent JSON.")


class LeadSnapshot(BaseModel):
    """What routing needs to know of a lead; routing never reads scoring's tables. Nothing
    that names the person (email, names, phone, company): the topic keeps records for days
    after an erasure; who the lead is comes from scoring's API by ``lead_id``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # The lead's attributes, declared once: scoring's serialiser, routing's profile and what
    # an erasure keeps are derived from these fields (see ``leadpipe.shared.lead_attributes``).
    title: Annotated[str | None, Field(description="Job title, as given.")] = None
    country: Annotated[
        str | None,
        Field(description="Country code (ISO 3166-1 alpha-2)."),
        Use.ROUTED,
        Use.KEPT_ON_ERASURE,
    ] = None
    industry: Annotated[
        str | None, Field(description="Industry."), Use.ROUTED, Use.KEPT_ON_ERASURE
    ] = None
    company_size: Annotated[
        int | None, Field(description="Employees."), Use.ROUTED, Use.KEPT_ON_ERASURE
    ] = None
    language: Annotated[
        str | None, Field(description="Preferred language (a language tag)."), Use.ROUTED
    ] = None
    source: Annotated[
        str | None, Field(description="Where the lead came from first."), Use.ROUTED
    ] = None
    account_domain: Annotated[
        str | None, Field(description="The company's web domain."), Use.ROUTED
    ] = None
    fit: Annotated[int, Field(description="Fit score.")] = 0
    engagement: Annotated[int, Field(description="Engagement score.")] = 0
    qualification: Annotated[int, Field(description="Qualification score.")] = 0
    grade: Annotated[
        Literal["A", "B", "C"] | None,
        Field(description="Fit grade."),
        Use.ROUTED,
        Use.KEPT_ON_ERASURE,
    ] = None
    temperature: Annotated[
        Literal["cold", "warm", "hot"],
        Field(description="Engagement band."),
        Use.ROUTED,
        Use.KEPT_ON_ERASURE,
    ] = "cold"
    hand_raiser: Annotated[
        bool, Field(description="Asked for contact (a demo request, say)."), Use.ROUTED
    ] = False


class StageChanged(WireModel):
    """On ``lead.stage-changed.v1``: one event per lifecycle transition."""

    CE_TYPE: ClassVar[str] = "io.leadpipe.lead.stage_changed.v1"

    lead_id: str
    lead_key: str = Field(description="The record key: a pseudonym of the lead key.")
    from_stage: Stage | None
    to_stage: Stage
    reason: str
    cause_event_id: str
    lead: LeadSnapshot


class RepRef(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    rep_id: str
    name: str
    email: str
    role: Literal["bdr", "ae"]


RoutedKind = Literal["assigned", "reassigned", "sla_breached", "queued", "escalated"]


class LeadRouted(WireModel):
    """On ``lead.routed.v1``: what sales tools consume. ``rep`` is None while queued."""

    CE_TYPE: ClassVar[str] = "io.leadpipe.lead.assigned.v1"

    kind: RoutedKind
    assignment_id: str
    lead_id: str
    lead_key: str = Field(description="The record key: a pseudonym of the lead key.")
    stage: Stage
    rep: RepRef | None
    rule: str
    reason: str
    sla_due_at: datetime | None
    cause_event_id: str
    pool: str | None = Field(default=None, description="The pool the rep was chosen from.")
    strategy: str | None = Field(
        default=None,
        description="round-robin, weighted-round-robin, least-loaded, account-ownership.",
    )
    candidates_considered: int | None = Field(
        default=None, description="How many reps of the pool were looked at."
    )
    excluded: dict[str, str] = Field(
        default_factory=dict,
        description="rep_id → why that candidate could not take the lead (decision-trace summary).",
    )
    previous_rep: RepRef | None = Field(
        default=None,
        description="For reassigned, escalated and sla_breached: the rep who had the lead.",
    )

    @property
    def ce_type(self) -> str:
        return f"io.leadpipe.lead.{self.kind}.v1"

    @classmethod
    def carries(cls, ce_type: str) -> bool:
        return ce_type in {f"io.leadpipe.lead.{kind}.v1" for kind in get_args(RoutedKind)}


class LeadErased(WireModel):
    """On ``lead.stage-changed.v1``: a person's data was erased from scoring; every service
    that holds data about the lead erases its own. Carries no personal data."""

    CE_TYPE: ClassVar[str] = "io.leadpipe.lead.erased.v1"

    lead_id: str
    erasure_id: str

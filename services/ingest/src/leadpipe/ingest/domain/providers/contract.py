"""What a webhook provider is: the contract every module in this package fulfils, so that the
route, the source store, the CLI and the OpenAPI document need no change for a new one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from leadpipe.ingest.domain.sources import Source
from leadpipe.shared.events import InboundEvent


@dataclass(frozen=True)
class WebhookRequest:
    """The parts of a delivery a provider may check, read by the route before any check."""

    method: str
    # The URL the sender signed: behind a proxy, the public one.
    url: str
    # Names in lower case.
    headers: Mapping[str, str]
    # ``?token=…`` or the Basic password (the user name when the password is empty).
    token: str | None
    body: bytes
    received_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A delivery whose sender was verified. Its id, when the sender gives one, makes a
    redelivery the same event."""

    received_at: datetime
    delivery_id: str | None = None


@dataclass(frozen=True)
class CredentialRequest:
    """What ``leadpipe source add`` was given for the credential."""

    # The sender cannot sign: it gets a token to send instead.
    unsigned: bool = False
    # A secret the sender's side made (HubSpot's client secret).
    secret: str | None = None


@dataclass(frozen=True)
class Credential:
    """The credential a new source gets, shown once at ``source add``."""

    value: str
    # What it is called where it is shown: "secret", "client secret", "token (…)".
    label: str
    # A token the sender presents is kept only as its hash; a signing secret ingest needs in
    # clear is kept encrypted.
    hashed: bool


class WebhookProvider(Protocol):
    @property
    def kind(self) -> str:
        """The source kind: ``leadpipe source add --kind KIND``, stored with the source and
        written into each event's ``source`` as ``KIND:NAME``."""
        ...

    @property
    def description(self) -> str:
        """One line for the CLI help and the OpenAPI document: who sends, what is checked."""
        ...

    def new_credential(self, request: CredentialRequest) -> Credential: ...

    def verify(self, request: WebhookRequest, source: Source) -> Delivery:
        """The delivery when ``source``'s sender made it; raises ``Unauthorised`` naming the
        header or parameter otherwise. Runs before the body is parsed."""
        ...

    def to_events(self, body: object, delivery: Delivery, source: Source) -> list[InboundEvent]:
        """The events a verified body carries; raises ``Malformed`` or ``FieldError`` naming
        the field. A redelivery must give the same event ids."""
        ...

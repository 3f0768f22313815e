"""What scoring's use cases read and write, as one typed seam: :class:`ScoringUnitOfWork`.

An implementation lives for one transaction that its caller (an entrypoint) opens and
commits; the use cases only ever call it, never commit. Writes may be collected and sent in
a few set-based statements: what a use case wrote is in the store once :meth:`write`
returned, and the exactly-once bookkeeping (:meth:`fresh`) and the outbox (:meth:`emit`,
:meth:`outcome`) commit with the state they belong to."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from leadpipe.scoring.domain.lead import LeadState, Outcome, ScoreChange
from leadpipe.scoring.domain.lead_record import LeadRecord
from leadpipe.shared.events import WireModel


@dataclass(frozen=True)
class ErasureReceipt:
    id: str
    subject_hash: str
    lead_ids: list[str]
    removed: dict[str, int]
    erased_at: datetime
    # The pseudonymous subjects whose data keys are to be shredded (not stored).
    subjects: list[str]


class ScoringUnitOfWork(Protocol):
    # What the batch's one account upsert writes: a company name per account domain, the
    # traits group calls gave it, and visitor → lead id for events that follow a merge.
    accounts: dict[str, str | None]
    account_traits: dict[str, dict[str, Any]]
    moved_events: dict[str, str]

    async def fresh(self, event_ids: Sequence[str]) -> set[str]:
        """Marks ``event_ids`` processed and returns those that were not before."""
        ...

    async def suppressed(self, hashes: Collection[str]) -> set[str]:
        """The identifier hashes among ``hashes`` that an erasure suppressed."""
        ...

    async def lock_leads(
        self, keys: Collection[str], emails: Collection[str], anonymous: Collection[str]
    ) -> list[LeadRecord]:
        """The leads with one of these keys, emails or anonymous ids, locked in id order."""
        ...

    async def lock_by_id(self, ids: Collection[str]) -> list[LeadRecord]: ...

    async def lock_due(self, now: datetime, limit: int) -> list[LeadRecord]:
        """Up to ``limit`` leads whose recycling moment has come by ``now``, soonest first;
        leads another sweeper holds are skipped."""
        ...

    def state(self, lead: LeadRecord, *, new: bool = False) -> LeadState:
        """The lead's state as this unit of work holds it; a ``new`` lead has no stage."""
        ...

    def hold(self, lead: LeadRecord, state: LeadState) -> None:
        """The lead's state from now on; its record follows before it is read or written."""
        ...

    def created(self, lead: LeadRecord) -> None: ...

    def changed(self, lead: LeadRecord) -> None: ...

    def changes(self, lead: LeadRecord, event_id: str, changes: Sequence[ScoreChange]) -> None:
        """Explained score changes, kept for the read API."""
        ...

    def outcome(self, lead: LeadRecord, cause_event_id: str, outcome: Outcome) -> None:
        """An outcome's score changes and stage moves (refusals included), and one
        ``lead.stage-changed.v1`` event in the outbox per move."""
        ...

    def applied(self, event_id: str, lead_id: str, occurred_at: datetime, payload: str) -> None:
        """An inbound event as stored for what-if replays."""
        ...

    async def hand_over(self, *, at_least: int) -> None:
        """Between events: may start sending what waits, and gives the event loop a turn."""
        ...

    async def abandon(self) -> None:
        """After a failure, before the caller rolls back."""
        ...

    async def write(self) -> None:
        """Everything not written yet."""
        ...

    async def emit(self, topic: str, key: str, event: WireModel) -> None:
        """``event`` into the outbox, for ``topic`` under record key ``key``."""
        ...

    async def leads_of_person(self, email: str) -> list[LeadRecord]:
        """The leads of a normalised ``email`` (locked) and the visitors merged into them."""
        ...

    async def stored_events(self, lead_ids: Collection[str]) -> list[Any]:
        """The stored inbound events of these leads, as JSON values."""
        ...

    async def remove_history(
        self, lead_ids: Collection[str], record_keys: Collection[str]
    ) -> dict[str, int]:
        """Drops the leads' explanations and event history and queued events under these
        record keys; the counts removed per kind."""
        ...

    async def anonymise(self, lead_ids: Collection[str]) -> None:
        """Strips the leads of everything personal; the rows stay, for counts per stage."""
        ...

    async def drop_unused_accounts(self, domains: Collection[str]) -> int:
        """Deletes the accounts of ``domains`` no lead belongs to any more; how many."""
        ...

    async def suppress(self, hashes: Collection[str], now: datetime) -> None: ...

    async def save_receipt(self, receipt: ErasureReceipt) -> None: ...

    async def prune_events(self, older_than: datetime) -> int:
        """Drops stored inbound events that occurred before ``older_than``; how many."""
        ...

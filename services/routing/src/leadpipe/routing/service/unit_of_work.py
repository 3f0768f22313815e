"""What routing's use cases read and write in one transaction, whatever stores it.

A unit of work is made for one transaction by the entrypoint that owns it. The use cases
``lock`` it (every routing decision reads the reps, rotations, rules and pools under the
routing locks), load the assignments their events or sweeps touch, decide in memory on what
it holds — kept current as they change it — and ``write`` it once at the end; they never
commit."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from leadpipe.routing.domain.assignment import AssignmentRecord
from leadpipe.routing.domain.reps import Rep
from leadpipe.routing.domain.rules import Pool, RoutingRule
from leadpipe.routing.domain.strategies import Rotation
from leadpipe.shared.envelope import CloudEvent


class RoutingUnitOfWork(Protocol):
    # Read by ``lock``: every rep, the rules and pools, the pools' rotations and the open
    # leads per rep. Then the owners of the accounts and the erased leads loaded so far.
    reps: dict[str, Rep]
    rules: list[RoutingRule]
    pools: dict[str, Pool]
    open_leads: dict[str, int]
    rotations: dict[str, Rotation]
    account_owners: dict[str, str]
    erased: set[str]

    async def fresh(self, event_ids: Iterable[str]) -> set[str]:
        """Mark the events processed; returns those that were not processed before."""
        ...

    async def lock(self) -> None:
        """Take the routing locks (reps, then rotations) and read what decisions need."""
        ...

    async def load_leads(
        self,
        *,
        lead_ids: Collection[str] = (),
        contacted_keys: Collection[str] = (),
        erased_ids: Collection[str] = (),
        account_domains: Collection[str] = (),
    ) -> None:
        """Lock and hold the open and queued assignments of ``lead_ids`` and the open ones of
        ``contacted_keys``, every one of ``erased_ids``; read which of ``lead_ids`` were
        erased and the owners of ``account_domains``."""
        ...

    async def load_account_owners(self, domains: Collection[str]) -> None: ...

    async def load_erased(self, lead_ids: Collection[str]) -> None: ...

    async def anything_due(self, now: datetime) -> bool:
        """Whether any SLA timer runs out by ``now`` (read before taking any lock)."""
        ...

    async def anything_queued(self) -> bool: ...

    async def lock_due_slas(self, now: datetime, limit: int) -> list[AssignmentRecord]:
        """Running SLA timers due by ``now``, oldest first, that no other transaction holds."""
        ...

    async def lock_queued(self, limit: int) -> list[AssignmentRecord]:
        """Queued leads, oldest first, that no other transaction holds."""
        ...

    def active(self, lead_id: str) -> list[AssignmentRecord]:
        """The lead's open and queued assignments held, oldest first."""
        ...

    def every(self, lead_id: str) -> list[AssignmentRecord]: ...

    def open_for_key(self, lead_key: str) -> list[AssignmentRecord]: ...

    def added(self, assignment: AssignmentRecord) -> None: ...

    def changed(self, assignment: AssignmentRecord) -> None:
        """An assignment held was changed in place."""
        ...

    def released(self, rep_id: str) -> None:
        """An open assignment of ``rep_id`` closed: one open lead less."""
        ...

    def rotated(self, pool: str, rotation: Rotation) -> None: ...

    def emit(self, topic: str, key: str, event: CloudEvent) -> None:
        """Into the outbox, published in the order emitted once the transaction commits."""
        ...

    def erase(self, lead_id: str, now: datetime, keys: Collection[str]) -> None:
        """Later events about the lead are ignored; outbox events keyed by ``keys`` (the
        lead's emails) are dropped, those stored and those of this unit of work."""
        ...

    async def write(self) -> None:
        """Store everything changed (in the caller's transaction, which it does not commit)."""
        ...

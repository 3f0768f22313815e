"""Routing's unit of work in memory: what a routing database holds, as plain dicts and lists,
for unit tests of the use cases. Everything it holds is visible to every use case (the
PostgreSQL one reads only what a batch needs); emitted events reach ``outbox`` on ``write``."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from leadpipe.routing.domain.assignment import AssignmentRecord
from leadpipe.routing.domain.reps import Rep
from leadpipe.routing.domain.rules import Pool, RoutingRule
from leadpipe.routing.domain.strategies import Rotation
from leadpipe.routing.service.unit_of_work import RoutingUnitOfWork
from leadpipe.shared.envelope import CloudEvent


@dataclass(frozen=True)
class Emitted:
    topic: str
    key: str
    event: CloudEvent


@dataclass
class InMemoryRoutingUnitOfWork:
    reps: dict[str, Rep] = field(default_factory=dict)
    rules: list[RoutingRule] = field(default_factory=list)
    pools: dict[str, Pool] = field(default_factory=dict)
    open_leads: dict[str, int] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    account_owners: dict[str, str] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    assignments: list[AssignmentRecord] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)
    outbox: list[Emitted] = field(default_factory=list)
    writes: int = 0
    _pending: list[Emitted] = field(default_factory=list)

    async def fresh(self, event_ids: Iterable[str]) -> set[str]:
        new = set(event_ids) - self.processed
        self.processed |= new
        return new

    async def lock(self) -> None:
        self.open_leads = {}
        for assignment in self.assignments:
            if assignment.status == "open" and assignment.rep_id is not None:
                rep = assignment.rep_id
                self.open_leads[rep] = self.open_leads.get(rep, 0) + 1

    async def load_leads(
        self,
        *,
        lead_ids: Collection[str] = (),
        contacted_keys: Collection[str] = (),
        erased_ids: Collection[str] = (),
        account_domains: Collection[str] = (),
    ) -> None:
        return None

    async def load_account_owners(self, domains: Collection[str]) -> None:
        return None

    async def load_erased(self, lead_ids: Collection[str]) -> None:
        return None

    async def anything_due(self, now: datetime) -> bool:
        return bool(self._due(now))

    async def anything_queued(self) -> bool:
        return any(a.status == "queued" for a in self.assignments)

    async def lock_due_slas(self, now: datetime, limit: int) -> list[AssignmentRecord]:
        return self._due(now)[:limit]

    async def lock_queued(self, limit: int) -> list[AssignmentRecord]:
        return [a for a in self.assignments if a.status == "queued"][:limit]

    def active(self, lead_id: str) -> list[AssignmentRecord]:
        return [a for a in self.assignments if a.lead_id == lead_id and a.status != "closed"]

    def every(self, lead_id: str) -> list[AssignmentRecord]:
        return [a for a in self.assignments if a.lead_id == lead_id]

    def open_for_key(self, lead_key: str) -> list[AssignmentRecord]:
        return [a for a in self.assignments if a.lead_key == lead_key and a.status == "open"]

    def added(self, assignment: AssignmentRecord) -> None:
        self.assignments.append(assignment)
        if assignment.status == "open" and assignment.rep_id is not None:
            rep = assignment.rep_id
            self.open_leads[rep] = self.open_leads.get(rep, 0) + 1

    def changed(self, assignment: AssignmentRecord) -> None:
        return None  # held by reference: the change is stored already

    def released(self, rep_id: str) -> None:
        self.open_leads[rep_id] = max(0, self.open_leads.get(rep_id, 0) - 1)

    def rotated(self, pool: str, rotation: Rotation) -> None:
        self.rotations[pool] = rotation

    def emit(self, topic: str, key: str, event: CloudEvent) -> None:
        self._pending.append(Emitted(topic, key, event))

    def erase(self, lead_id: str, now: datetime, keys: Collection[str]) -> None:
        self.erased.add(lead_id)
        self.outbox = [e for e in self.outbox if e.key not in keys]
        self._pending = [e for e in self._pending if e.key not in keys]

    async def write(self) -> None:
        self.outbox.extend(self._pending)
        self._pending.clear()
        self.writes += 1

    def _due(self, now: datetime) -> list[AssignmentRecord]:
        running = [
            a
            for a in self.assignments
            if a.sla_state == "running" and a.sla_due_at is not None and a.sla_due_at <= now
        ]
        return sorted(running, key=lambda a: a.sla_due_at or now)


def _satisfies_the_protocol() -> RoutingUnitOfWork:
    return InMemoryRoutingUnitOfWork()

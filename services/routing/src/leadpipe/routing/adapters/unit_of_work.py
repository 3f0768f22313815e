"""Routing's unit of work on PostgreSQL (the `RoutingUnitOfWork` of `service/unit_of_work.py`):
one transaction's routing state, read once under the routing locks, kept current in memory
while the batch's decisions are made, and written back with one statement per table.

Locks, always in this order, so that any number of routing instances neither deadlock nor
decide on stale state: every rep row (id order), every rotation cursor (pool order), then the
assignment rows the batch may change (id order). A second instance's batch waits for the
first one's commit at the rep lock, then reads what it wrote."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from leadpipe.routing.adapters import repository
from leadpipe.routing.adapters.assignment_record import (
    ASSIGNMENTS,
    COLUMNS,
    LOCK_DUE_SLAS,
    LOCK_FOR_LEADS,
    LOCK_QUEUED,
    UPDATE,
    inserted,
    record_of,
    updated,
)
from leadpipe.routing.adapters.orm import (
    ErasedLeadRow,
    ProcessedEventRow,
    RotationCursorRow,
    outbox,
)
from leadpipe.routing.domain.assignment import AssignmentRecord
from leadpipe.routing.domain.reps import Rep
from leadpipe.routing.domain.rules import Pool, RoutingRule
from leadpipe.routing.domain.strategies import Rotation
from leadpipe.shared.bookkeeping import mark_processed
from leadpipe.shared.bulk import Connection, columns_of, insert_rows, table_of
from leadpipe.shared.envelope import CloudEvent
from leadpipe.shared.outbox import OUTBOX_COLUMNS, OutboxRow, outbox_row

PROCESSED = table_of(ProcessedEventRow)
ERASED = table_of(ErasedLeadRow)
ROTATIONS = table_of(RotationCursorRow)

FIRST_DELIVERIES = mark_processed(PROCESSED)
ALREADY_ERASED = f"SELECT lead_id FROM {ERASED.fullname} WHERE lead_id = ANY($1::TEXT[])"
ERASE = insert_rows(ERASED, ("lead_id", "erased_at"), "ON CONFLICT (lead_id) DO NOTHING")
FORGET_OUTBOX = f"DELETE FROM {outbox.fullname} WHERE key = ANY($1::TEXT[])"
SAVE_ROTATIONS = insert_rows(
    ROTATIONS,
    ("pool", "last_rep_id", "credits"),
    "ON CONFLICT (pool) DO UPDATE"
    " SET last_rep_id = EXCLUDED.last_rep_id, credits = EXCLUDED.credits",
)


ANYTHING_DUE = (
    f"SELECT EXISTS (SELECT 1 FROM {ASSIGNMENTS.fullname}"
    " WHERE sla_state = 'running' AND sla_due_at <= $1)"
)
ANYTHING_QUEUED = f"SELECT EXISTS (SELECT 1 FROM {ASSIGNMENTS.fullname} WHERE status = 'queued')"


@dataclass
class PostgresRoutingUnitOfWork:
    """The unit of work on the session's asyncpg connection, in the caller's transaction."""

    connection: Connection
    reps: dict[str, Rep] = field(default_factory=dict)
    rules: list[RoutingRule] = field(default_factory=list)
    pools: dict[str, Pool] = field(default_factory=dict)
    open_leads: dict[str, int] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    account_owners: dict[str, str] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    _by_lead: dict[str, list[AssignmentRecord]] = field(default_factory=dict)
    _by_key: dict[str, list[AssignmentRecord]] = field(default_factory=dict)
    _new: dict[str, AssignmentRecord] = field(default_factory=dict)
    _changed: dict[str, AssignmentRecord] = field(default_factory=dict)
    _rotated: set[str] = field(default_factory=set)
    _outbox: list[OutboxRow] = field(default_factory=list)
    _newly_erased: dict[str, datetime] = field(default_factory=dict)
    _forgotten_keys: set[str] = field(default_factory=set)

    @classmethod
    async def of(cls, session: AsyncSession) -> PostgresRoutingUnitOfWork:
        return cls(await Connection.of(session))

    async def fresh(self, event_ids: Iterable[str]) -> set[str]:
        """Record the events as processed; returns those not processed before. In the
        caller's transaction, so that a rollback forgets them with everything they caused.
        Inserted in one (sorted) order, so that two instances given the same events cannot
        deadlock here."""
        unique = sorted(set(event_ids))
        if not unique:
            return set()
        rows = await self.connection.fetch(FIRST_DELIVERIES, unique)
        return {row["event_id"] for row in rows}

    async def lock(self) -> None:
        """Lock the reps and rotations and read what decisions need: reps, rules and pools,
        open leads per rep."""
        connection = self.connection
        self.reps = await repository.lock_reps(connection)
        self.rotations = await repository.lock_rotations(connection)
        self.rules, self.pools = await repository.read_rules(connection)
        self.open_leads = await repository.count_open_leads(connection)

    async def anything_due(self, now: datetime) -> bool:
        return bool(await self.connection.fetchval(ANYTHING_DUE, now))

    async def anything_queued(self) -> bool:
        return bool(await self.connection.fetchval(ANYTHING_QUEUED))

    async def load_leads(
        self,
        *,
        lead_ids: Collection[str] = (),
        contacted_keys: Collection[str] = (),
        erased_ids: Collection[str] = (),
        account_domains: Collection[str] = (),
    ) -> None:
        """Lock and read the assignments the batch's events may change: the active ones of
        ``lead_ids`` and ``contacted_keys``, every one of ``erased_ids``. Also which of the
        leads were erased before, and the owners of ``account_domains``."""
        rows = await self.connection.fetch(
            LOCK_FOR_LEADS, sorted(lead_ids), sorted(contacted_keys), sorted(erased_ids)
        )
        self._hold(sorted((record_of(row) for row in rows), key=lambda a: a.created_at))
        await self.load_erased(lead_ids)
        await self.load_account_owners(account_domains)

    async def load_account_owners(self, domains: Collection[str]) -> None:
        wanted = {domain for domain in domains if domain not in self.account_owners}
        if wanted:
            self.account_owners.update(
                await repository.read_account_owners(self.connection, wanted)
            )

    async def lock_due_slas(self, now: datetime, limit: int) -> list[AssignmentRecord]:
        """Running SLA timers due by ``now``, oldest first, that no other instance holds."""
        due = [record_of(row) for row in await self.connection.fetch(LOCK_DUE_SLAS, now, limit)]
        self._hold(due)
        return due

    async def lock_queued(self, limit: int) -> list[AssignmentRecord]:
        """Queued leads, oldest first, that no other instance holds."""
        queued = [record_of(row) for row in await self.connection.fetch(LOCK_QUEUED, limit)]
        self._hold(queued)
        return queued

    async def load_erased(self, lead_ids: Collection[str]) -> None:
        """Which of ``lead_ids`` were erased (into :attr:`erased`)."""
        if lead_ids:
            erased = await self.connection.fetch(ALREADY_ERASED, sorted(lead_ids))
            self.erased.update(row["lead_id"] for row in erased)

    def _hold(self, records: Iterable[AssignmentRecord]) -> None:
        for record in records:
            self._by_lead.setdefault(record.lead_id, []).append(record)
            self._by_key.setdefault(record.lead_key, []).append(record)

    # What decisions read, as it stands after the batch's earlier events.

    def active(self, lead_id: str) -> list[AssignmentRecord]:
        """The lead's open and queued assignments, oldest first."""
        return [a for a in self._by_lead.get(lead_id, ()) if a.status != "closed"]

    def every(self, lead_id: str) -> list[AssignmentRecord]:
        return list(self._by_lead.get(lead_id, ()))

    def open_for_key(self, lead_key: str) -> list[AssignmentRecord]:
        return [
            a
            for a in self._by_key.get(lead_key, ())
            if a.status == "open" and a.lead_key == lead_key
        ]

    # What decisions change.

    def added(self, assignment: AssignmentRecord) -> None:
        self._new[assignment.id] = assignment
        self._hold((assignment,))
        if assignment.status == "open" and assignment.rep_id is not None:
            self.open_leads[assignment.rep_id] = self.open_leads.get(assignment.rep_id, 0) + 1

    def changed(self, assignment: AssignmentRecord) -> None:
        """An assignment read (or added) earlier was changed in place."""
        if assignment.id not in self._new:
            self._changed[assignment.id] = assignment

    def released(self, rep_id: str) -> None:
        """An open assignment of ``rep_id`` closed: one open lead less."""
        self.open_leads[rep_id] = max(0, self.open_leads.get(rep_id, 0) - 1)

    def rotated(self, pool: str, rotation: Rotation) -> None:
        self.rotations[pool] = rotation
        self._rotated.add(pool)

    def emit(self, topic: str, key: str, event: CloudEvent) -> None:
        self._outbox.append(outbox_row(topic, key, event))

    def erase(self, lead_id: str, now: datetime, keys: Collection[str]) -> None:
        """Later events about the lead are ignored; outbox rows keyed by ``keys`` (the lead's
        emails) so far are dropped, those already stored and those of this batch."""
        self.erased.add(lead_id)
        self._newly_erased.setdefault(lead_id, now)
        self._forgotten_keys.update(keys)
        self._outbox = [row for row in self._outbox if row.key not in keys]

    async def write(self) -> None:
        """Everything the batch decided, one statement per table. Outbox rows go last and in
        the order they were made: the relay publishes by id."""
        connection = self.connection
        if self._newly_erased:
            erased = self._newly_erased
            await connection.execute(ERASE, list(erased), list(erased.values()))
        if self._forgotten_keys:
            await connection.execute(FORGET_OUTBOX, sorted(self._forgotten_keys))
        if self._changed:
            changed = [updated(self._changed[i]) for i in sorted(self._changed)]
            await connection.execute(UPDATE, *columns_of(changed))
        await connection.copy(ASSIGNMENTS, COLUMNS, [inserted(a) for a in self._new.values()])
        if self._rotated:
            pools = sorted(self._rotated)  # one lock order for every instance
            await connection.execute(
                SAVE_ROTATIONS,
                pools,
                [self.rotations[p].last_rep_id for p in pools],
                [repository.credits_json(self.rotations[p]) for p in pools],
            )
        await connection.copy(outbox, OUTBOX_COLUMNS, self._outbox)

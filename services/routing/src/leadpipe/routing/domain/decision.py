"""Deciding who gets a lead: account owner first, then the first matching rule's pool, then
the pool's strategy among the eligible reps — with a trace of every step."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from leadpipe.routing.domain.reps import LeadProfile, Rep, Role
from leadpipe.routing.domain.rules import Pool, RoutingRule, default_pool, first_matching_rule
from leadpipe.routing.domain.sla import AfterBreach, Breach
from leadpipe.routing.domain.strategies import Eligible, Rotation, forget_departed, pick


@dataclass(frozen=True)
class Candidate:
    rep_id: str
    name: str
    excluded_because: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "rep_id": self.rep_id,
            "name": self.name,
            "eligible": self.excluded_because is None,
            "excluded_because": self.excluded_because,
        }


@dataclass(frozen=True)
class RoutingSituation:
    """Everything the decision needs, loaded by the caller."""

    lead: LeadProfile
    role: Role
    now: datetime
    rules: Sequence[RoutingRule]
    pools: Mapping[str, Pool]
    reps: Mapping[str, Rep]
    open_leads: Mapping[str, int]
    rotations: Mapping[str, Rotation]
    account_owner: str | None = None
    avoid: Collection[str] = ()
    avoid_reason: str = "already had this lead"


@dataclass(frozen=True)
class Decision:
    kind: Literal["assigned", "queued"]
    rep_id: str | None
    pool: str
    rule: str
    strategy: str
    reason: str
    rotation: Rotation | None
    trace: dict[str, object] = field(default_factory=dict)


def exclusion(rep: Rep, situation: RoutingSituation, *, check_coverage: bool) -> str | None:
    """Why ``rep`` cannot take the lead now; None when they can. Checked in the order a sales
    manager would ask: right person at all, then present, then room for one more lead."""
    if not rep.active:
        return "inactive"
    if rep.role != situation.role:
        return f"role {rep.role}, lead needs a {situation.role}"
    if rep.id in situation.avoid:
        return situation.avoid_reason
    if check_coverage:
        mismatch = rep.does_not_cover(situation.lead)
        if mismatch is not None:
            return mismatch
    away = rep.calendar.unavailable_because(situation.now)
    if away is not None:
        return away
    open_leads = situation.open_leads.get(rep.id, 0)
    if rep.capacity is not None and open_leads >= rep.capacity:
        return f"at capacity ({open_leads} of {rep.capacity} open leads)"
    return None


def pool_members(pool: Pool, reps: Mapping[str, Rep]) -> list[Rep]:
    if pool.members:
        return sorted((reps[r] for r in pool.members if r in reps), key=lambda r: r.id)
    return sorted(
        (r for r in reps.values() if r.role == pool.role and r.active), key=lambda r: r.id
    )


def decide(situation: RoutingSituation) -> Decision:
    """Pure: the same situation always gives the same decision."""
    trace: dict[str, object] = {}
    owner = situation.reps.get(situation.account_owner or "")
    if owner is not None and owner.role == situation.role:
        why_not = exclusion(owner, situation, check_coverage=False)
        trace["account_owner"] = {
            "rep_id": owner.id,
            "name": owner.name,
            "excluded_because": why_not,
        }
        if why_not is None:
            trace.update(
                rule="account owner",
                pool="account owner",
                strategy="account-ownership",
                previous=None,
                candidates=[Candidate(owner.id, owner.name, None).as_json()],
                rules_checked=[],
            )
            return Decision(
                "assigned",
                owner.id,
                "account owner",
                "account owner",
                "account-ownership",
                f"owns the account {situation.lead.account_domain}",
                None,
                trace,
            )

    rule, checks = first_matching_rule(
        situation.rules, dict(situation.pools), situation.lead, situation.role
    )
    if rule is not None:
        pool, rule_name = situation.pools[rule.pool], rule.name
    else:
        pool = situation.pools.get(situation.role, default_pool(situation.role))
        rule_name = f"default: {situation.lead.stage} → {situation.role} pool"
    rotation = situation.rotations.get(pool.name, Rotation())
    candidates = [
        Candidate(rep.id, rep.name, exclusion(rep, situation, check_coverage=pool.match_coverage))
        for rep in pool_members(pool, situation.reps)
    ]
    eligible = [
        Eligible(c.rep_id, situation.reps[c.rep_id].weight, situation.open_leads.get(c.rep_id, 0))
        for c in candidates
        if c.excluded_because is None
    ]
    picked = pick(pool.strategy, eligible, rotation)
    trace.update(
        rule=rule_name,
        pool=pool.name,
        strategy=pool.strategy,
        previous=rotation.last_rep_id,
        candidates=[c.as_json() for c in candidates],
        rules_checked=[{"rule": c.rule, "matched": c.matched, "reason": c.reason} for c in checks],
    )
    if picked is None:
        why = "no rep in the pool" if not candidates else "no rep in the pool can take it now"
        return Decision(
            "queued",
            None,
            pool.name,
            rule_name,
            pool.strategy,
            f"{why}; waiting in the fallback queue",
            None,
            trace,
        )
    trace["picked"] = picked.rep_id
    return Decision(
        "assigned",
        picked.rep_id,
        pool.name,
        rule_name,
        pool.strategy,
        f"{picked.why} in pool {pool.name}",
        forget_departed(picked.rotation, [c.rep_id for c in candidates]),
        trace,
    )


def escalate(
    step: AfterBreach,
    breaches: Sequence[Breach],
    *,
    pool_name: str,
    rule: str,
    target_id: str | None,
    reps: Mapping[str, Rep],
) -> Decision:
    """Pure: where a lead goes once its SLA re-assignments are used up — the pool's
    escalation target when that rep is active (their hours and capacity do not count: a
    manager takes escalations), else the fallback queue. Either way no SLA clock runs any
    more, so the lead does not move on by itself again."""
    target = reps.get(target_id) if target_id is not None else None
    breached_by = ", ".join(breach.name for breach in breaches)
    trace: dict[str, object] = {
        "rule": rule,
        "pool": pool_name,
        "strategy": "escalation",
        "previous": None,
        "candidates": [],
        "rules_checked": [],
        "sla_breaches": [breach.as_json() for breach in breaches],
    }
    if target is not None and target.active:
        trace["escalation"] = {
            "breaches": step.breaches,
            "max_reassignments": step.max_reassignments,
            "target": target.id,
            "outcome": f"assigned to the escalation target {target.name}",
        }
        trace["candidates"] = [Candidate(target.id, target.name, None).as_json()]
        trace["picked"] = target.id
        return Decision(
            "assigned",
            target.id,
            pool_name,
            rule,
            "escalation",
            f"escalated to {target.name} after {step.breaches} SLA breaches ({breached_by})",
            None,
            trace,
        )
    if target_id is None:
        why = f"pool {pool_name} names no escalation target"
    elif target is None:
        why = f"escalation target {target_id} is no rep any more"
    else:
        why = f"escalation target {target.name} is inactive"
    trace["escalation"] = {
        "breaches": step.breaches,
        "max_reassignments": step.max_reassignments,
        "target": target_id,
        "outcome": f"{why}; fallback queue",
    }
    return Decision(
        "queued",
        None,
        pool_name,
        rule,
        "escalation",
        f"escalated after {step.breaches} SLA breaches ({breached_by}); {why}, so it waits "
        "in the fallback queue for a rep who has not had it",
        None,
        trace,
    )

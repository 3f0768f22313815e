"""Routing rules and pools: ordered rules with conditions on lead and account attributes,
each pointing at a pool of reps. The first rule that matches wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from leadpipe.routing.domain.regions import in_regions
from leadpipe.routing.domain.reps import LeadProfile, Role

Strategy = Literal["round-robin", "weighted-round-robin", "least-loaded"]
STRATEGIES: tuple[Strategy, ...] = ("round-robin", "weighted-round-robin", "least-loaded")

# Attributes a condition may name, with how the lead's value is read.
MATCHABLE = (
    "country",
    "industry",
    "language",
    "source",
    "account_domain",
    "grade",
    "temperature",
    "segment",
    "region",
)


@dataclass(frozen=True)
class Conditions:
    """All given conditions must hold. ``one_of`` compares case-insensitively; a lead without
    the attribute does not match a condition on it."""

    one_of: dict[str, frozenset[str]] = field(default_factory=dict)
    company_size_min: int | None = None
    company_size_max: int | None = None
    hand_raiser: bool | None = None

    def unmet(self, lead: LeadProfile) -> str | None:
        """The first condition the lead does not meet; None when all hold."""
        for attribute, accepted in sorted(self.one_of.items()):
            if attribute == "region":
                if lead.country is None:
                    return "country unknown, so no region"
                if not in_regions(lead.country, accepted):
                    return f"country {lead.country} not in region {', '.join(sorted(accepted))}"
                continue
            value = getattr(lead, attribute)
            if value is None:
                return f"{attribute} unknown"
            if str(value).lower() not in accepted:
                return f"{attribute} {value} not in {', '.join(sorted(accepted))}"
        size = lead.company_size
        if self.company_size_min is not None and (size is None or size < self.company_size_min):
            return (
                f"company size {size if size is not None else 'unknown'} < {self.company_size_min}"
            )
        if self.company_size_max is not None and (size is None or size > self.company_size_max):
            return (
                f"company size {size if size is not None else 'unknown'} > {self.company_size_max}"
            )
        if self.hand_raiser is not None and lead.hand_raiser != self.hand_raiser:
            return "hand-raiser" if not self.hand_raiser else "not a hand-raiser"
        return None


@dataclass(frozen=True)
class Pool:
    """A group of reps of one role sharing leads by one strategy. No members means every
    active rep of the role. ``match_coverage`` drops reps whose territories, segments or
    languages do not cover the lead. An SLA breach re-assigns the lead at most
    ``max_reassignments`` times; the next one escalates it to ``escalate_to``."""

    name: str
    role: Role
    strategy: Strategy = "round-robin"
    members: frozenset[str] = field(default_factory=frozenset)
    match_coverage: bool = True
    # SLA re-assignments before a breach escalates; None = the routing-wide default.
    max_reassignments: int | None = None
    escalate_to: str | None = None  # a rep id; None = the fallback queue


@dataclass(frozen=True)
class RoutingRule:
    name: str
    pool: str
    conditions: Conditions = field(default_factory=Conditions)


def default_pool(role: Role) -> Pool:
    """The pool a lead goes to when no rule matches: every rep of the role, in turn."""
    return Pool(name=role, role=role, strategy="round-robin", match_coverage=False)


@dataclass(frozen=True)
class RuleCheck:
    rule: str
    matched: bool
    reason: str


def first_matching_rule(
    rules: Sequence[RoutingRule], pools: dict[str, Pool], lead: LeadProfile, role: Role
) -> tuple[RoutingRule | None, list[RuleCheck]]:
    """The first rule whose pool serves ``role`` and whose conditions hold, with a line per
    rule looked at (for the decision trace)."""
    checks: list[RuleCheck] = []
    for rule in rules:
        pool = pools.get(rule.pool)
        if pool is None:
            checks.append(RuleCheck(rule.name, False, f"pool {rule.pool} does not exist"))
            continue
        if pool.role != role:
            checks.append(RuleCheck(rule.name, False, f"pool {pool.name} is for {pool.role}s"))
            continue
        unmet = rule.conditions.unmet(lead)
        if unmet is not None:
            checks.append(RuleCheck(rule.name, False, unmet))
            continue
        checks.append(RuleCheck(rule.name, True, f"→ pool {pool.name}"))
        return rule, checks
    return None, checks

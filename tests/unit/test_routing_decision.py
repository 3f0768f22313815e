"""Rule matching, account ownership, each strategy and eligibility, with the decision trace."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from leadpipe.routing.domain.calendar import DateRange, WeeklyHours, WorkCalendar
from leadpipe.routing.domain.decision import Decision, RoutingSituation, decide
from leadpipe.routing.domain.reps import LeadProfile, Rep
from leadpipe.routing.domain.rules import Conditions, Pool, RoutingRule
from leadpipe.routing.domain.strategies import Rotation

NOW = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)  # a Tuesday
LEAD = LeadProfile(lead_id="l1", stage="sql", country="DE", company_size=120, language="de-DE")


def rep(rep_id: str, **changes: Any) -> Rep:
    fields: dict[str, Any] = {"name": rep_id.title(), "email": f"{rep_id}@x.example", "role": "ae"}
    fields.update(changes)
    return Rep(id=rep_id, **fields)


def situation(
    reps: Sequence[Rep],
    *,
    lead: LeadProfile = LEAD,
    rules: Sequence[RoutingRule] = (),
    pools: Mapping[str, Pool] | None = None,
    open_leads: Mapping[str, int] | None = None,
    rotations: Mapping[str, Rotation] | None = None,
    **changes: Any,
) -> RoutingSituation:
    return RoutingSituation(
        lead=lead,
        role="ae",
        now=NOW,
        rules=rules,
        pools=pools or {},
        reps={r.id: r for r in reps},
        open_leads=open_leads or {},
        rotations=rotations or {},
        **changes,
    )


def run(base: RoutingSituation, leads: int) -> list[str]:
    """Route ``leads`` leads in a row, carrying the rotation and open counts along."""
    rotations = dict(base.rotations)
    open_leads = Counter(base.open_leads)
    picks: list[str] = []
    for _ in range(leads):
        decision = decide(
            RoutingSituation(**{**vars(base), "rotations": rotations, "open_leads": open_leads})
        )
        assert decision.rep_id is not None and decision.rotation is not None
        rotations[decision.pool] = decision.rotation
        open_leads[decision.rep_id] += 1
        picks.append(decision.rep_id)
    return picks


def excluded(decision: Decision) -> dict[str, str]:
    candidates: list[dict[str, Any]] = decision.trace["candidates"]  # type: ignore[assignment]
    return {c["rep_id"]: c["excluded_because"] for c in candidates if not c["eligible"]}


def test_without_rules_sql_leads_go_round_the_aes() -> None:
    reps = [rep("a"), rep("b"), rep("c", role="bdr")]
    assert run(situation(reps), 4) == ["a", "b", "a", "b"]
    decision = decide(situation(reps))
    assert decision.rule == "default: sql → ae pool"
    assert decision.trace["strategy"] == "round-robin"


def test_first_matching_rule_wins_and_the_trace_says_why_others_did_not() -> None:
    pools = {
        "enterprise": Pool("enterprise", "ae", members=frozenset({"e"})),
        "dach": Pool("dach", "ae", members=frozenset({"d"})),
        "catch-all": Pool("catch-all", "ae", members=frozenset({"c"})),
    }
    rules = [
        RoutingRule("big accounts", "enterprise", Conditions(company_size_min=1000)),
        RoutingRule("DACH", "dach", Conditions(one_of={"country": frozenset({"de", "at", "ch"})})),
        RoutingRule("everyone else", "catch-all"),
    ]
    decision = decide(situation([rep("e"), rep("d"), rep("c")], rules=rules, pools=pools))
    assert (decision.rep_id, decision.rule, decision.pool) == ("d", "DACH", "dach")
    assert decision.trace["rules_checked"] == [
        {"rule": "big accounts", "matched": False, "reason": "company size 120 < 1000"},
        {"rule": "DACH", "matched": True, "reason": "→ pool dach"},
    ]


def test_conditions_on_unknown_attributes_do_not_match() -> None:
    conditions = Conditions(one_of={"industry": frozenset({"software"})})
    assert conditions.unmet(LEAD) == "industry unknown"
    assert conditions.unmet(LeadProfile("l", "sql", industry="Software")) is None
    assert Conditions(hand_raiser=True).unmet(LEAD) == "not a hand-raiser"
    segment = Conditions(one_of={"segment": frozenset({"mid-market"})})
    assert segment.unmet(LEAD) is None


def test_rules_whose_pool_serves_another_role_are_skipped() -> None:
    pools = {"bdrs": Pool("bdrs", "bdr")}
    decision = decide(situation([rep("a")], rules=[RoutingRule("all", "bdrs")], pools=pools))
    assert decision.rep_id == "a"
    assert decision.trace["rules_checked"] == [
        {"rule": "all", "matched": False, "reason": "pool bdrs is for bdrs"}
    ]


def test_account_owner_comes_first_when_available() -> None:
    reps = [rep("a"), rep("b"), rep("owner")]
    decision = decide(situation(reps, account_owner="owner"))
    assert (decision.rep_id, decision.strategy) == ("owner", "account-ownership")


def test_account_owner_who_is_away_falls_back_to_the_rules_with_the_reason() -> None:
    away = rep(
        "owner", calendar=WorkCalendar(out_of_office=(DateRange.parse("2026-01-12..2026-01-16"),))
    )
    decision = decide(situation([rep("a"), away], account_owner="owner"))
    assert decision.rep_id == "a"
    assert decision.trace["account_owner"] == {
        "rep_id": "owner",
        "name": "Owner",
        "excluded_because": "out of office 2026-01-12..2026-01-16",
    }


def test_every_excluded_candidate_has_its_reason() -> None:
    reps = [
        rep("busy", capacity=2),
        rep("away", calendar=WorkCalendar(out_of_office=(DateRange.parse("2026-01-13"),))),
        rep(
            "asleep", calendar=WorkCalendar("Asia/Tokyo", WeeklyHours.parse("mon-fri 09:00-17:00"))
        ),
        rep(
            "holiday",
            calendar=WorkCalendar("Europe/Berlin", holiday_country="DE", holiday_subdivision="BY"),
        ),
        rep("french", languages=frozenset({"fr"})),
        rep("us", territories=frozenset({"US"})),
        rep("small", segments=frozenset({"smb"})),
        rep("gone", active=False),
        rep("ok"),
    ]
    pool = Pool("p", "ae", members=frozenset(r.id for r in reps))
    holiday_now = RoutingSituation(
        **{
            **vars(situation(reps, pools={"ae": pool}, open_leads={"busy": 2})),
            "now": datetime(2026, 1, 6, 10, tzinfo=UTC),
        }
    )
    reasons = excluded(decide(holiday_now))
    assert reasons["holiday"] == "public holiday in DE-BY: Epiphany"
    reasons = excluded(decide(situation(reps, pools={"ae": pool}, open_leads={"busy": 2})))
    assert reasons == {
        "busy": "at capacity (2 of 2 open leads)",
        "away": "out of office 2026-01-13",
        "asleep": "outside working hours (mon-fri 09:00-17:00, now Tue 19:00 Asia/Tokyo)",
        "french": "language de not in fr",
        "us": "territory DE not in US",
        "small": "segment mid-market not in smb",
        "gone": "inactive",
    }


def test_nobody_eligible_queues_the_lead() -> None:
    decision = decide(situation([rep("busy", capacity=1)], open_leads={"busy": 1}))
    assert decision.kind == "queued" and decision.rep_id is None
    assert "fallback queue" in decision.reason
    assert decide(situation([])).kind == "queued"


def test_round_robin_does_not_restart_when_a_rep_is_away_or_removed() -> None:
    a, b, c = rep("a"), rep("b"), rep("c")
    after_a = Rotation(last_rep_id="a")
    away_b = rep("b", calendar=WorkCalendar(out_of_office=(DateRange.parse("2026-01-13"),)))
    assert decide(situation([a, away_b, c], rotations={"ae": after_a})).rep_id == "c"
    assert decide(situation([a, c], rotations={"ae": Rotation(last_rep_id="b")})).rep_id == "c"
    assert run(situation([a, b, c], rotations={"ae": Rotation(last_rep_id="b")}), 3) == [
        "c",
        "a",
        "b",
    ]


def test_weighted_round_robin_follows_weights_interleaved() -> None:
    pool = Pool("ae", "ae", strategy="weighted-round-robin")
    reps = [rep("a", weight=3), rep("b", weight=1)]
    picks = run(situation(reps, pools={"ae": pool}), 8)
    assert Counter(picks) == {"a": 6, "b": 2}
    assert picks[:4].count("b") == 1


def test_weighted_round_robin_stays_fair_when_a_rep_joins() -> None:
    pool = Pool("ae", "ae", strategy="weighted-round-robin")
    base = situation([rep("a"), rep("b")], pools={"ae": pool})
    first = decide(base)
    assert first.rotation is not None
    joined = situation(
        [rep("a"), rep("b"), rep("c")], pools={"ae": pool}, rotations={"ae": first.rotation}
    )
    picks = run(joined, 9)
    # b was owed a turn before c joined; after that everyone gets a third.
    assert picks[0] == "b"
    assert Counter(picks) == {"a": 3, "b": 3, "c": 3}


def test_weighted_round_robin_forgets_reps_who_left() -> None:
    pool = Pool("ae", "ae", strategy="weighted-round-robin")
    decision = decide(
        situation(
            [rep("a"), rep("b")],
            pools={"ae": pool},
            rotations={"ae": Rotation("x", {"x": 5, "a": 1})},
        )
    )
    assert decision.rotation is not None and "x" not in decision.rotation.credits


def test_least_loaded_picks_fewest_open_leads_and_rotates_ties() -> None:
    pool = Pool("ae", "ae", strategy="least-loaded")
    reps = [rep("a"), rep("b"), rep("c")]
    assert run(situation(reps, pools={"ae": pool}, open_leads={"a": 2, "b": 0, "c": 1}), 4) == [
        "b",
        "c",
        "b",
        "c",
    ]


def test_avoided_rep_is_excluded_with_the_reason() -> None:
    decision = decide(situation([rep("a"), rep("b")], avoid={"a"}, avoid_reason="breached the SLA"))
    assert decision.rep_id == "b"
    assert excluded(decision) == {"a": "breached the SLA"}

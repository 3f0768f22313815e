"""What an SLA breach leads to: re-assignment while the pool allows it, then escalation to a
named rep or the fallback queue — never an endless swap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadpipe.routing.domain.decision import escalate
from leadpipe.routing.domain.reps import Rep
from leadpipe.routing.domain.sla import Breach, after_breach

DUE = datetime(2026, 1, 13, 10, 5, tzinfo=UTC)
MANAGER = Rep("m1", "Maria", "maria@sales.example", "ae", capacity=0)


def _breaches(*names: str) -> list[Breach]:
    return [
        Breach(f"r-{name}", name, DUE + timedelta(minutes=5 * i)) for i, name in enumerate(names)
    ]


def test_breaches_reassign_until_the_allowance_is_used_then_escalate() -> None:
    steps = [after_breach(_breaches(*["Anna", "Jonas"] * 3)[:n], 2) for n in range(1, 6)]
    assert [step.escalate for step in steps] == [False, False, True, True, True]
    assert steps[1].reason == "SLA breach 2: re-assignment 2 of 2"
    assert steps[2].reason == "SLA breach 3 with 2 re-assignment(s) allowed: escalated"


def test_no_reassignments_allowed_escalates_the_first_breach() -> None:
    assert after_breach(_breaches("Anna"), 0).escalate


def test_a_breach_survives_the_trace_round_trip() -> None:
    [breach] = _breaches("Anna")
    assert Breach.from_json(breach.as_json()) == breach


def test_escalation_goes_to_the_named_rep_whatever_their_capacity_with_the_steps_traced() -> None:
    breaches = _breaches("Anna", "Jonas", "Anna")
    decision = escalate(
        after_breach(breaches, 2),
        breaches,
        pool_name="dach",
        rule="hot DACH",
        target_id="m1",
        reps={"m1": MANAGER},
    )
    assert (decision.kind, decision.rep_id, decision.strategy) == ("assigned", "m1", "escalation")
    assert decision.reason == "escalated to Maria after 3 SLA breaches (Anna, Jonas, Anna)"
    assert decision.trace["escalation"] == {
        "breaches": 3,
        "max_reassignments": 2,
        "target": "m1",
        "outcome": "assigned to the escalation target Maria",
    }
    assert decision.trace["sla_breaches"] == [breach.as_json() for breach in breaches]


def test_escalation_without_a_usable_target_waits_in_the_fallback_queue() -> None:
    breaches = _breaches("Anna", "Jonas", "Anna")
    step = after_breach(breaches, 2)
    for target_id, reps, why in (
        (None, {}, "pool dach names no escalation target"),
        ("gone", {}, "escalation target gone is no rep any more"),
        ("m1", {"m1": Rep("m1", "Maria", "m@x", "ae", active=False)}, "target Maria is inactive"),
    ):
        decision = escalate(
            step, breaches, pool_name="dach", rule="hot DACH", target_id=target_id, reps=reps
        )
        assert (decision.kind, decision.rep_id) == ("queued", None)
        assert why in decision.reason and "fallback queue" in decision.reason

"""Stored pools become domain pools only when their strategy is one routing knows."""

from __future__ import annotations

import pytest

from leadpipe.routing.adapters.repository import UnknownStrategy, pool_of


def _row(strategy: str) -> dict[str, object]:
    return {
        "name": "dach",
        "role": "ae",
        "strategy": strategy,
        "members": '["rep-1"]',
        "match_coverage": True,
        "max_reassignments": None,
        "escalate_to": None,
    }


@pytest.mark.parametrize("strategy", ["round-robin", "weighted-round-robin", "least-loaded"])
def test_a_known_strategy_is_kept(strategy: str) -> None:
    assert pool_of(_row(strategy)).strategy == strategy


@pytest.mark.parametrize("strategy", ["random", "Least-Loaded", ""])
def test_an_unknown_strategy_is_an_error_naming_the_pool_not_round_robin(strategy: str) -> None:
    with pytest.raises(UnknownStrategy) as refused:
        pool_of(_row(strategy))
    assert "'dach'" in str(refused.value)
    assert repr(strategy) in str(refused.value)

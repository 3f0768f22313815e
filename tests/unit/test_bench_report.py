"""The bench table's arithmetic: percentiles, medians and ratios as the README states them."""

from __future__ import annotations

import pytest

from bench.report import Figure
from bench.stats import median, percentile


def test_percentile_is_the_nearest_observed_rank() -> None:
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError, match="no samples"):
        median([])


def test_ratio_is_leadpipe_over_baseline_and_absent_without_a_baseline() -> None:
    beside = Figure("x", "x/s", "x/s", 250.0, 1000.0, "bare", "≥ 0.5")
    alone = Figure("y", "y", "ms", 12.0, None, "", "—")
    assert beside.ratio == 0.25
    assert beside.texts()["ratio"] == "0.25"
    assert alone.ratio is None and alone.texts()["ratio"] == "n/a"

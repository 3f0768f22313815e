"""The loop behind every periodic job: its rounds, its failures, its wake-ups, its end."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from leadpipe.shared.periodic import run_every


class Stop(Exception):
    """Raised by the test's sleep to end the loop after the rounds a test looks at."""


@dataclass
class Sleeps:
    """An injected sleep that records how long it was asked to wait and returns at once; it
    ends the loop once asked ``rounds`` times."""

    rounds: int
    asked: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if len(self.asked) == self.rounds:
            raise Stop


async def never(seconds: float) -> None:
    await asyncio.Event().wait()


@dataclass
class Job:
    """Answers each run from ``answers`` (None once they run out); an exception is raised."""

    answers: list[bool | Exception | None] = field(default_factory=list)
    runs: int = 0
    ran: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self) -> bool | None:
        self.runs += 1
        self.ran.set()
        # A job gives the event loop a turn, as any job doing I/O does.
        await asyncio.sleep(0)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


async def _runs_reach(job: Job, runs: int) -> None:
    while job.runs < runs:
        job.ran.clear()
        await asyncio.wait_for(job.ran.wait(), timeout=2)
    # Turns of the event loop for any round that should not come to come anyway.
    for _ in range(10):
        await asyncio.sleep(0)


async def test_the_job_runs_once_per_interval() -> None:
    job, sleeps = Job(), Sleeps(rounds=3)
    with pytest.raises(Stop):
        await run_every("sweep", 30.0, job, sleep=sleeps)
    assert job.runs == 3
    assert sleeps.asked == [30.0, 30.0, 30.0]


async def test_jitter_lengthens_the_pause_by_a_drawn_amount() -> None:
    job, sleeps = Job(), Sleeps(rounds=1)
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high / 2

    with pytest.raises(Stop):
        await run_every("sweep", 30.0, job, jitter_s=4.0, sleep=sleeps, uniform=uniform)
    assert drawn == [(0.0, 4.0)]
    assert sleeps.asked == [32.0]


async def test_a_failing_job_is_logged_under_its_name_and_runs_again_the_next_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job, sleeps = Job([RuntimeError("database is down")]), Sleeps(rounds=2)
    with caplog.at_level(logging.ERROR, logger="leadpipe.shared.periodic"), pytest.raises(Stop):
        await run_every("recycling sweep", 30.0, job, extra={"table": "t"}, sleep=sleeps)
    assert job.runs == 2
    assert sleeps.asked == [30.0, 30.0]
    [failure] = caplog.records
    assert failure.getMessage() == "recycling sweep failed; retrying"
    assert failure.__dict__["job"] == "recycling sweep"
    assert failure.__dict__["table"] == "t"
    assert failure.exc_info is not None
    assert isinstance(failure.exc_info[1], RuntimeError)


async def test_after_a_failure_it_waits_the_back_off_then_the_interval() -> None:
    job, sleeps = Job([RuntimeError("broker unreachable")]), Sleeps(rounds=3)
    with pytest.raises(Stop):
        await run_every("outbox relay", 1.0, job, after_failure_s=5.0, sleep=sleeps)
    assert sleeps.asked == [5.0, 1.0, 1.0]


async def test_a_job_with_more_work_runs_again_at_once() -> None:
    job, sleeps = Job([True, True, False, True]), Sleeps(rounds=2)
    with pytest.raises(Stop):
        await run_every("recycling sweep", 30.0, job, sleep=sleeps)
    assert job.runs == 5
    assert sleeps.asked == [30.0, 30.0]


async def test_a_wake_up_starts_the_next_round_before_the_interval() -> None:
    job, wake = Job(), asyncio.Event()
    loop = asyncio.create_task(run_every("outbox relay", 3600.0, job, wake=wake, sleep=never))
    try:
        await _runs_reach(job, 1)
        assert job.runs == 1
        wake.set()
        await _runs_reach(job, 2)
        assert job.runs == 2
        assert not wake.is_set()
    finally:
        loop.cancel()


async def test_a_wake_up_during_the_job_brings_another_round() -> None:
    job, wake = Job(), asyncio.Event()

    async def woken_while_running() -> bool | None:
        if job.runs == 0:
            wake.set()
        return await job()

    loop = asyncio.create_task(
        run_every("source reload", 3600.0, woken_while_running, wake=wake, sleep=never)
    )
    try:
        await _runs_reach(job, 2)
        assert job.runs == 2
    finally:
        loop.cancel()


@pytest.mark.parametrize("wake", [None, asyncio.Event()], ids=["sleeping", "waiting for a wake"])
async def test_cancelling_stops_it_while_it_waits(
    wake: asyncio.Event | None, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job()
    loop = asyncio.create_task(run_every("sweep", 30.0, job, wake=wake, sleep=never))
    await _runs_reach(job, 1)
    loop.cancel()
    await asyncio.wait({loop}, timeout=2)
    assert loop.cancelled()
    assert job.runs == 1
    assert not caplog.records


async def test_cancelling_stops_it_inside_the_job_without_logging_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()
    runs = 0

    async def stuck() -> None:
        nonlocal runs
        runs += 1
        started.set()
        await asyncio.Event().wait()

    loop = asyncio.create_task(run_every("sweep", 30.0, stuck, sleep=Sleeps(rounds=99)))
    await asyncio.wait_for(started.wait(), timeout=2)
    loop.cancel()
    await asyncio.wait({loop}, timeout=2)
    assert loop.cancelled()
    assert runs == 1
    assert not caplog.records

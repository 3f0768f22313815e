"""The loop behind every background job that runs every so often for as long as a service
runs (the routing clock, the recycling sweeper, the outbox relay, the bookkeeping pruner,
ingest's source reload), so that each of them is only its job."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# A job returns True when it stopped with work left (a full batch): it runs again at once.
Job = Callable[[], Awaitable[bool | None]]


async def run_every(
    name: str,
    interval_s: float,
    job: Job,
    *,
    wake: asyncio.Event | None = None,
    jitter_s: float = 0.0,
    after_failure_s: float = 0.0,
    extra: Mapping[str, object] | None = None,
    sleep: Sleep = asyncio.sleep,
    uniform: Callable[[float, float], float] = random.uniform,
) -> None:
    """Run ``job`` until cancelled: again at once when it reports more work, otherwise after
    ``interval_s`` (plus up to ``jitter_s``, so that instances started together drift apart)
    or as soon as ``wake`` is set. ``wake`` is cleared as a round starts, so a wake-up during
    the job brings another round.

    A job that raises is logged under ``name`` (with ``extra``) and runs again in the next
    round, after waiting ``after_failure_s`` more: one failed round never ends the loop.
    Cancellation stops it, whether it is waiting or inside the job."""
    while True:
        if wake is not None:
            wake.clear()
        try:
            more = await job()
        except Exception:
            log.exception("%s failed; retrying", name, extra={"job": name, **(extra or {})})
            more = False
            if after_failure_s:
                await sleep(after_failure_s)
        if not more:
            pause = interval_s + uniform(0.0, jitter_s) if jitter_s else interval_s
            await _pause(pause, wake, sleep)


async def _pause(seconds: float, wake: asyncio.Event | None, sleep: Sleep) -> None:
    if wake is None:
        await sleep(seconds)
        return
    if wake.is_set():
        return
    woken = asyncio.ensure_future(wake.wait())
    slept = asyncio.ensure_future(sleep(seconds))
    try:
        await asyncio.wait((woken, slept), return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        slept.cancel()

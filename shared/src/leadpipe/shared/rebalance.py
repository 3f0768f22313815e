"""Rebalances that do not cut a batch in half.

Kafka takes partitions away from a consumer when another one joins or leaves its group. The
consume loop applies a batch in one transaction and commits its offsets afterwards; a
revocation in between would hand the partitions to their next owner with stale offsets (it
applies the batch again) or let this consumer commit offsets for partitions it no longer owns.
So the revocation waits here until the batch being applied is committed, for at most
``wait_s``; after that it abandons the batch: nothing is committed for the revoked partitions,
and their next owner finds the events it gets again already processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import ConsumerRebalanceListener, TopicPartition

log = logging.getLogger(__name__)


class BatchGate(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, wait_s: float = 30.0) -> None:
        self._wait_s = wait_s
        self._idle = asyncio.Event()
        self._idle.set()
        self._abandoned: set[TopicPartition] = set()

    @asynccontextmanager
    async def applying(self) -> AsyncIterator[set[TopicPartition]]:
        """Around applying one batch and committing its offsets. Yields the partitions a
        revocation abandoned meanwhile: the batch must not commit offsets for them."""
        self._abandoned = set()
        self._idle.clear()
        try:
            yield self._abandoned
        finally:
            self._idle.set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._idle.is_set():
            return
        try:
            async with asyncio.timeout(self._wait_s):
                await self._idle.wait()
        except TimeoutError:
            self._abandoned.update(revoked)
            log.warning(
                "rebalance abandons the batch being applied",
                extra={"partitions": sorted(str(tp) for tp in revoked)},
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass

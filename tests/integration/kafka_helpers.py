"""Plain Kafka readers for tests: what a sales tool consuming leadpipe's topics would do."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from leadpipe.shared.kafka import start_tail_reader


def keyed(key: str) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    """Matches the records of one lead."""
    wanted = key.encode()
    return lambda record: record.key == wanted


class TopicReader:
    """Reads one topic from the moment it is opened, or from its beginning."""

    def __init__(self, bootstrap: str, topic: str, *, from_beginning: bool = False) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._from_beginning = from_beginning
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = await start_tail_reader(
            self._bootstrap, self._topic, from_beginning=self._from_beginning
        )
        return self

    @property
    def consumer(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "use TopicReader in an async with block"
        return self._consumer

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def wait_for(
        self, matches: Callable[[ConsumerRecord[bytes, bytes]], bool], timeout_s: float = 20.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record read until one matches (inclusive); fails after ``timeout_s``."""
        seen: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await self.consumer.getmany(timeout_ms=100)).values():
                for record in records:
                    seen.append(record)
                    if matches(record):
                        return seen
        raise AssertionError(f"no matching record on {self._topic} within {timeout_s} s")

    async def drain(self, seconds: float) -> list[ConsumerRecord[bytes, bytes]]:
        seen: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for records in (await self.consumer.getmany(timeout_ms=100)).values():
                seen.extend(records)
        return seen

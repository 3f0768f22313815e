from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from leadpipe.scoring.handlers import decode
from leadpipe.shared.dead_letters import UndecodableRecord
from leadpipe.shared.envelope import wrap
from tests.unit.scoring.events import inbound


@dataclass(frozen=True)
class Delivered:
    value: bytes | None
    headers: list[tuple[str, bytes]]
    topic: str = "lead.events.v1"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def test_an_event_time_without_offset_is_read_as_utc() -> None:
    naive = inbound("page", at=datetime(2026, 3, 2, 9, 0), properties={"url": "/pricing"})
    cloud_event = wrap(naive, "/test")
    events = decode([Delivered(cloud_event.data, cloud_event.headers())])
    assert [e.event_id for e in events] == [naive.event_id]
    assert events[0].occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_garbage_is_refused_for_the_dead_letter_topic() -> None:
    with pytest.raises(UndecodableRecord, match="missing CloudEvents header"):
        decode([Delivered(b"not json", [("ce_type", b"x")])])

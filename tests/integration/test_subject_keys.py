"""ingest's subject keys in PostgreSQL: made once per subject however many instances ask at
once, read without making, shredded for good."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.ingest.adapters.subject_keys import KeyStoreUnavailable, SubjectKeys
from leadpipe.shared.db import make_engine, make_sessionmaker
from leadpipe.shared.sealing import DATA_KEY_BYTES

pytestmark = pytest.mark.integration


def subjects(count: int) -> list[str]:
    run = uuid.uuid4().hex
    return [f"{run}-{n}" for n in range(count)]


async def test_two_instances_asking_at_once_agree_on_one_key_per_subject(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    wanted = subjects(40)
    first, second = SubjectKeys(sessions), SubjectKeys(sessions)
    answers = await asyncio.gather(
        *(keys.for_publishing(wanted[n::3]) for keys in (first, second) for n in range(3)),
        first.for_publishing(wanted),
        second.for_publishing(wanted),
    )
    by_first, by_second = answers[-2], answers[-1]
    assert by_first == by_second
    assert all(key is not None and len(key) == DATA_KEY_BYTES for key in by_first.values())
    assert len(set(by_first.values())) == len(wanted)
    for answer in answers[:-2]:
        assert all(by_first[subject] == key for subject, key in answer.items())


async def test_reading_keys_makes_none_and_shredding_leaves_none_for_good(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    published, never = subjects(2)
    keys = SubjectKeys(sessions)
    assert await keys.known({published, never}) == {published: None, never: None}
    made = (await keys.for_publishing({published}))[published]
    assert (await SubjectKeys(sessions).known({published}))[published] == made

    assert await keys.shred({published, never}) == 1
    fresh = SubjectKeys(sessions)  # another instance, nothing in memory
    assert await fresh.known({published, never}) == {published: None, never: None}
    # Neither gets a key again: the person's later events are not published.
    assert await fresh.for_publishing({published, never}) == {published: None, never: None}
    assert await keys.for_publishing({published}) == {published: None}


async def test_a_failing_store_is_named_without_the_statement_or_its_keys() -> None:
    unreachable = make_engine("postgresql+asyncpg://leadpipe:leadpipe@127.0.0.1:9/none")
    try:
        keys = SubjectKeys(make_sessionmaker(unreachable))
        with pytest.raises(KeyStoreUnavailable) as failure:
            await keys.for_publishing({"subject-1"})
    finally:
        await unreachable.dispose()
    assert str(failure.value).startswith("subject keys could not be stored or read (")
    assert "INSERT" not in str(failure.value) and "subject-1" not in str(failure.value)

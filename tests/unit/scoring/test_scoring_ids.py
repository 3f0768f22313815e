"""Ids of new leads and stage moves: version 4 UUIDs, never repeated, not even across a fork."""

from __future__ import annotations

import os
import uuid

from leadpipe.scoring.service.ids import new_id


def test_ids_are_version_4_uuids_in_their_usual_form() -> None:
    for _ in range(2000):
        text = new_id()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_ids_do_not_repeat() -> None:
    assert len({new_id() for _ in range(100_000)}) == 100_000


def test_a_forked_process_makes_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, "\n".join(new_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        theirs = set(pipe.read().split("\n"))
    os.waitpid(child, 0)
    ours = {new_id() for _ in range(100)}
    assert len(theirs) == 100
    assert not ours & theirs

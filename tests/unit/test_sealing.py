"""Sealed payloads: open with their subject's key, and with nothing else."""

from __future__ import annotations

import pytest

from leadpipe.shared.sealing import Unreadable, new_data_key, seal, unseal

PLAIN = b'{"identity": {"email": "erika@muster.example"}}'


def test_a_sealed_payload_opens_with_its_key_and_subject() -> None:
    key = new_data_key()
    sealed = seal(key, "subject-1", PLAIN)
    assert b"erika" not in sealed.encode()
    assert unseal(key, "subject-1", sealed) == PLAIN


def test_each_seal_is_different_even_for_the_same_payload() -> None:
    key = new_data_key()
    assert seal(key, "s", PLAIN) != seal(key, "s", PLAIN)


def test_without_the_key_the_payload_is_unreadable() -> None:
    sealed = seal(new_data_key(), "subject-1", PLAIN)
    with pytest.raises(Unreadable):
        unseal(new_data_key(), "subject-1", sealed)


def test_a_payload_moved_to_another_subject_does_not_open() -> None:
    key = new_data_key()
    with pytest.raises(Unreadable):
        unseal(key, "subject-2", seal(key, "subject-1", PLAIN))


@pytest.mark.parametrize("broken", ["", "not base64!", "AAAA"])
def test_garbage_is_unreadable_not_a_crash(broken: str) -> None:
    with pytest.raises(Unreadable):
        unseal(new_data_key(), "s", broken)

from leadpipe.routing.domain.rotation import next_in_rotation


def test_rotation_goes_round() -> None:
    reps = ["c", "a", "b"]
    picks = []
    last = None
    for _ in range(6):
        last = next_in_rotation(reps, last)
        picks.append(last)
    assert picks == ["a", "b", "c", "a", "b", "c"]


def test_removed_rep_does_not_reset_the_rotation() -> None:
    assert next_in_rotation(["a", "c", "d"], "b") == "c"


def test_nobody_eligible() -> None:
    assert next_in_rotation([], "a") is None

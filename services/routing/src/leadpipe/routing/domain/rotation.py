"""Round-robin choice that stays fair when reps join, leave or are away.

The cursor remembers the last rep chosen, not a position: the next pick is the first eligible
rep after it in a stable order, so removing or adding a rep never sends the rotation back to
the start of the list.
"""

from __future__ import annotations

from collections.abc import Sequence


def next_in_rotation(eligible_ids: Sequence[str], last_chosen: str | None) -> str | None:
    """The rep to choose next; ``eligible_ids`` need not be sorted. None when nobody is eligible."""
    if not eligible_ids:
        return None
    ordered = sorted(eligible_ids)
    if last_chosen is None:
        return ordered[0]
    for rep_id in ordered:
        if rep_id > last_chosen:
            return rep_id
    return ordered[0]

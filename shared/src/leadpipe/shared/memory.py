"""Garbage collection for long-running services.

After start-up a service holds hundreds of thousands of long-lived objects (modules, pydantic
schemas, the app). Every full collection walked them all again: profiled under load, ingest
spent 12% of its CPU in the collector. Frozen, they are left out of every collection, and
the collector only sees what requests allocate."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Call once start-up is done: what exists now is kept out of later collections."""
    gc.collect()
    gc.freeze()

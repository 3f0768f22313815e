from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

# Receives one human-readable line per step the stack takes.
Log: TypeAlias = Callable[[str], None]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    port: int
    running: bool
    pid: int | None
    detail: str

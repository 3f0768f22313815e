"""What each service does with the lead's attributes. The attributes themselves (name, type,
default, description) are declared once, as the fields of
:class:`leadpipe.shared.events.LeadSnapshot`; a field carries the uses below in its
``Annotated`` metadata, and every other shape of the lead (scoring's serialiser, routing's
profile and what an erasure keeps) is derived from them here."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel


class Use(enum.Enum):
    # Routing's rules and coverage read it: it is on routing's lead profile.
    ROUTED = "routed"
    # It does not tell who the person is: an erased lead's assignments keep it for counts.
    KEPT_ON_ERASURE = "kept_on_erasure"


def attribute_names(model: type[BaseModel], use: Use | None = None) -> tuple[str, ...]:
    """The model's attributes in declaration order; with ``use``, those marked with it."""
    return tuple(
        name
        for name, declared in model.model_fields.items()
        if use is None or use in declared.metadata
    )


def choices(annotation: Any) -> frozenset[object] | None:
    """The values a ``Literal`` annotation (possibly ``| None``) allows; None when it is not
    one."""
    if typing.get_origin(annotation) is Literal:
        return frozenset(typing.get_args(annotation))
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for member in typing.get_args(annotation):
            allowed = choices(member)
            if allowed is not None:
                return allowed
    return None

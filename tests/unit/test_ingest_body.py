"""Reading bodies: JSON nested deeper than events ever are is refused cleanly."""

import orjson
import pytest

from leadpipe.ingest.domain.refusals import Malformed
from leadpipe.ingest.entrypoints.api.body import MAX_DEPTH, parse_json


def nested(levels: int) -> bytes:
    """``levels`` containers inside one another, alternating objects and lists."""
    value: object = "innermost"
    for level in range(levels):
        value = {"a": value, "n": 1} if level % 2 else [value, 1]
    return orjson.dumps(value)


def test_json_as_deep_as_allowed_is_read() -> None:
    assert parse_json(nested(MAX_DEPTH))


def test_deeper_json_is_refused_naming_the_body() -> None:
    with pytest.raises(Malformed) as refused:
        parse_json(nested(MAX_DEPTH + 1))
    assert refused.value.field == "body"
    assert f"deeper than {MAX_DEPTH}" in refused.value.reason

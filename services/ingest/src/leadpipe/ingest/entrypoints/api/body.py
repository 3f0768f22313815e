"""Reading a request body within limits: size, gzip, media type, JSON."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request

from leadpipe.ingest.domain.refusals import Malformed, TooLarge, UnsupportedMediaType

MAX_DEPTH = 32
_CONTAINERS = (dict, list)
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_media_type(request: Request, *allowed: str) -> str:
    found = media_type(request)
    if found not in allowed:
        named = " or ".join(kind for kind in allowed if kind)
        raise UnsupportedMediaType(
            "Content-Type", f"{found or 'none'} is not accepted; send {named}"
        )
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The body, gunzipped when sent with ``Content-Encoding: gzip``; refuses more than
    ``limit`` bytes before or after decompression (no gzip bomb gets through)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise TooLarge("body", f"is larger than {limit // 1024} KB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge("body", f"is larger than {limit // 1024} KB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in {"", "identity"}:
        return raw
    if encoding != "gzip":
        raise UnsupportedMediaType("Content-Encoding", f"{encoding} is not accepted; use gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise Malformed("body", "is not valid gzip") from exc
    if len(body) > limit:
        raise TooLarge("body", f"is larger than {limit // 1024} KB once decompressed")
    if not inflater.eof:
        raise Malformed("body", "is not valid gzip (truncated)")
    return body


def parse_json(body: bytes) -> object:
    try:
        parsed: object = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Malformed("body", f"is not valid JSON: {exc}") from exc
    _check_depth(parsed)
    return parsed


def _check_depth(parsed: object) -> None:
    """Refuses JSON nested deeper than events ever are, before it reaches the serialisers
    (orjson and pydantic stop at a few hundred levels, with an error, not a clean refusal).
    Level by level, holding only containers: scalars are most of a body and need no look."""
    level: list[Any] = [parsed] if type(parsed) in _CONTAINERS else []
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for container in level:
            for value in container.values() if type(container) is dict else container:
                if type(value) in _CONTAINERS:  # exactly what orjson makes; fastest test
                    below.append(value)
        if not below:
            return
        level = below
    raise Malformed("body", f"is nested deeper than {MAX_DEPTH} levels")


def parse_form(body: bytes) -> dict[str, str]:
    """An HTML form post; for a repeated field, the first value counts."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise Malformed("body", "is not UTF-8") from exc
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` header, if there is one."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def traceparent(request: Request) -> str | None:
    """The caller's W3C trace context, when it is well-formed."""
    found = request.headers.get("traceparent", "").strip().lower()
    return found if TRACEPARENT.match(found) else None

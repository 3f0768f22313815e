"""Why ingest refuses a request: each refusal names the field and the reason, and carries the
HTTP status a client acts on (Segment-protocol clients retry 429 and 5xx, never other 4xx)."""

from __future__ import annotations


class Refusal(ValueError):
    status: int = 400
    code: str = "malformed"

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class Malformed(Refusal):
    """The body cannot be read: not JSON, not gzip, oversized event, missing identity."""


class Unauthorised(Refusal):
    status = 401
    code = "unauthorised"


class TooLarge(Refusal):
    status = 413
    code = "too_large"


class UnsupportedMediaType(Refusal):
    status = 415
    code = "unsupported_media_type"


class FieldError(Refusal):
    """A readable body whose content cannot be accepted."""

    status = 422
    code = "invalid_field"


class RateLimited(Refusal):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(None, f"too many events from this source; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s

"""Reading client timestamps and correcting a client's clock skew."""

from __future__ import annotations

from datetime import UTC, datetime

from leadpipe.ingest.domain.refusals import FieldError


def parse_timestamp(raw: object, field: str) -> datetime | None:
    """An ISO-8601 time with ``Z`` or an offset; a time without offset is taken as UTC."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise FieldError(field, "must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise FieldError(field, f"is not an ISO-8601 time: {raw[:40]!r}") from exc
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise FieldError(field, "is out of range once in UTC") from exc


def corrected(
    client_time: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """When the event happened, on the server's clock (Segment's rule).

    A client with a wrong clock stamps both the event and the send with the same error, so
    ``received_at - (sent_at - client_time)`` cancels it out. Without ``sent_at`` the client's
    time is taken as it is; without any client time, the arrival time."""
    if client_time is None:
        return received_at
    if sent_at is None:
        return client_time
    try:
        return received_at - (sent_at - client_time)
    except OverflowError as exc:
        raise FieldError("sentAt", "is too far from timestamp to correct the clock") from exc

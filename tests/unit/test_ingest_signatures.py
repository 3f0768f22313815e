"""Webhook signatures against the published vectors, with the clock passed in."""

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from leadpipe.ingest.domain.refusals import Unauthorised
from leadpipe.ingest.domain.signatures import (
    hubspot_v3_signature,
    standard_webhooks_signature,
    verify_hubspot_v3,
    verify_standard_webhook,
)

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIME = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_URL = "https://www.example.com/webhook_uri"
HUBSPOT_BODY = b"{'example_field':'example_value'}"
HUBSPOT_SIGNATURE = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


def _spec_headers(signature: str = SPEC_SIGNATURE) -> dict[str, str]:
    return {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIME),
        "webhook-signature": signature,
    }


def test_standard_webhooks_spec_vector() -> None:
    assert standard_webhooks_signature(SPEC_SECRET, SPEC_ID, str(SPEC_TIME), SPEC_BODY) == (
        SPEC_SIGNATURE
    )
    assert verify_standard_webhook(SPEC_SECRET, _spec_headers(), SPEC_BODY, now_s=SPEC_TIME) == (
        SPEC_ID
    )


def test_any_of_several_signatures_may_match() -> None:
    headers = _spec_headers(f"v1,bm90IGl0 {SPEC_SIGNATURE}")
    assert verify_standard_webhook(SPEC_SECRET, headers, SPEC_BODY, now_s=SPEC_TIME) == SPEC_ID


def test_a_signature_made_by_the_standardwebhooks_library_verifies() -> None:
    body = b'{"type": "lead_contacted", "data": {"email": "a@b.example"}}'
    signature = Webhook(SPEC_SECRET).sign(
        "msg_1", datetime.fromtimestamp(1_700_000_000, UTC), body.decode()
    )
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": signature,
    }
    assert verify_standard_webhook(SPEC_SECRET, headers, body, now_s=1_700_000_100) == "msg_1"


@pytest.mark.parametrize(
    ("headers", "body", "now", "field"),
    [
        (_spec_headers(), b'{"test": 2432232315}', SPEC_TIME, "webhook-signature"),
        (_spec_headers(), SPEC_BODY, SPEC_TIME + 301, "webhook-timestamp"),
        (_spec_headers(), SPEC_BODY, SPEC_TIME - 301, "webhook-timestamp"),
        ({"webhook-id": SPEC_ID}, SPEC_BODY, SPEC_TIME, "webhook-timestamp"),
    ],
)
def test_standard_webhooks_refusals_name_the_header(
    headers: dict[str, str], body: bytes, now: int, field: str
) -> None:
    with pytest.raises(Unauthorised) as refused:
        verify_standard_webhook(SPEC_SECRET, headers, body, now_s=now)
    assert refused.value.field == field


def test_hubspot_v3_published_vector() -> None:
    assert (
        hubspot_v3_signature(HUBSPOT_SECRET, "POST", HUBSPOT_URL, HUBSPOT_BODY, "15000000")
        == HUBSPOT_SIGNATURE
    )
    headers = {
        "x-hubspot-signature-v3": HUBSPOT_SIGNATURE,
        "x-hubspot-request-timestamp": "15000000",
    }
    verify_hubspot_v3(HUBSPOT_SECRET, "POST", HUBSPOT_URL, headers, HUBSPOT_BODY, now_s=15_000)


def test_hubspot_timestamps_are_milliseconds_and_expire_after_5_minutes() -> None:
    headers = {
        "x-hubspot-signature-v3": HUBSPOT_SIGNATURE,
        "x-hubspot-request-timestamp": "15000000",
    }
    with pytest.raises(Unauthorised) as refused:
        verify_hubspot_v3(
            HUBSPOT_SECRET, "POST", HUBSPOT_URL, headers, HUBSPOT_BODY, now_s=15_000 + 301
        )
    assert refused.value.field == "X-HubSpot-Request-Timestamp"


def test_hubspot_signature_covers_the_url() -> None:
    headers = {
        "x-hubspot-signature-v3": HUBSPOT_SIGNATURE,
        "x-hubspot-request-timestamp": "15000000",
    }
    with pytest.raises(Unauthorised) as refused:
        verify_hubspot_v3(
            HUBSPOT_SECRET,
            "POST",
            "https://www.example.com/other",
            headers,
            HUBSPOT_BODY,
            now_s=15_000,
        )
    assert refused.value.field == "X-HubSpot-Signature-v3"


def test_hubspot_timestamps_from_the_future_are_refused_too() -> None:
    headers = {
        "x-hubspot-signature-v3": HUBSPOT_SIGNATURE,
        "x-hubspot-request-timestamp": "15000000",
    }
    verify_hubspot_v3(
        HUBSPOT_SECRET, "POST", HUBSPOT_URL, headers, HUBSPOT_BODY, now_s=15_000 - 299
    )
    with pytest.raises(Unauthorised) as refused:
        verify_hubspot_v3(
            HUBSPOT_SECRET, "POST", HUBSPOT_URL, headers, HUBSPOT_BODY, now_s=15_000 - 301
        )
    assert refused.value.field == "X-HubSpot-Request-Timestamp"

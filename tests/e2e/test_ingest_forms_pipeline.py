"""A plain HTML form of a registered form source, posted through the running pipeline: the
visitor lands on the thank-you page and the lead ends routed, with consent carried."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadpipe.cli.demo import seed_reps
from leadpipe.ingest.adapters.source_store import SourceOptions
from leadpipe.ingest.domain.sources import SourceKind
from leadpipe.shared.envelope import from_record, unwrap
from leadpipe.shared.events import LeadRouted
from leadpipe.shared.privacy import record_key
from tests.e2e.test_pipeline import RunningPipeline, pipeline
from tests.integration.ingest_process import new_source, wait_until
from tests.integration.kafka_helpers import TopicReader, keyed

pytestmark = pytest.mark.e2e
__all__ = ["pipeline"]  # the three services as processes, shared with test_pipeline
SITE = "https://www.maschinenbau.example"
THANKS = f"{SITE}/danke"


def _preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(url, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})


def _html_post(url: str, fields: dict[str, str]) -> httpx.Response:
    return httpx.post(url, data=fields, headers={"Origin": SITE})


async def test_an_html_form_post_redirects_and_the_lead_is_routed(
    pipeline: RunningPipeline, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with httpx.AsyncClient(headers=pipeline.headers) as client:
        await seed_reps(client, pipeline.url("routing"))
    form = await new_source(
        sessions,
        SourceKind.FORM,
        SourceOptions(allowed_origins=(SITE,), thank_you_url=THANKS),
        name=f"kontakt-{uuid.uuid4().hex[:6]}",
    )
    url = f"{pipeline.url('ingest')}/v1/forms/{form.name}"
    known = wait_until(
        lambda: _preflight(url, "https://other.example"), lambda r: r.status_code == 403
    )
    assert known.status_code == 403, known.text
    email = f"html.{uuid.uuid4().hex[:8]}@maschinenbau.example"
    settings = pipeline.settings
    async with TopicReader(settings.kafka_bootstrap, settings.topics.routed) as reader:
        response = _html_post(
            url,
            {
                "email": email,
                "title": "Geschäftsführer",
                "budget": "yes",
                "_gotcha": "",
                "consent_purpose": "sales_contact",
                "consent_text_version": "2026-01",
            },
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == THANKS
        seen = await reader.wait_for(keyed(record_key(email)), timeout_s=30)
    routed = unwrap(from_record(seen[-1].headers, seen[-1].value), LeadRouted)
    assert routed.kind == "assigned"
    assert routed.stage == "sql"
    async with httpx.AsyncClient(headers=pipeline.headers) as client:
        found = await client.get(f"{pipeline.url('scoring')}/v1/leads", params={"email": email})
    [consent] = found.json()["consents"]
    assert (consent["purpose"], consent["text_version"], consent["withdrawn"]) == (
        "sales_contact",
        "2026-01",
        False,
    )
    assert consent["source"].endswith(form.name)

"""Bounded metric labels, idempotency keys scoped to their content, thank-you pages that are
web pages."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter
from typer.testing import CliRunner

from leadpipe.cli.sources import app as sources_cli
from leadpipe.ingest.adapters.metrics import ACCEPTED, SUPPRESSED, UNREGISTERED_FORMS, BySource
from leadpipe.ingest.domain.idempotency import (
    KeyReused,
    RecentKeys,
    body_scoped,
    content_digest,
)
from leadpipe.ingest.domain.sources import Source, SourceKind, SourceRegistry, thank_you_url
from leadpipe.ingest.entrypoints.api.forms import HTML_FORM, _accepted


def _label_values(registry: CollectorRegistry) -> set[str]:
    return {
        sample.labels["source"]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def test_unregistered_form_ids_share_one_series_and_registered_sources_keep_theirs() -> None:
    registry = CollectorRegistry()
    accepted = BySource(Counter("accepted", "", ["source"], registry=registry))
    known = SourceRegistry.of(
        [Source("contact", SourceKind.FORM), Source("web", SourceKind.SEGMENT)]
    )
    accepted.only_registered(known.knows)
    for source in ("form:contact", "segment:web", *(f"form:random-{n}" for n in range(50))):
        accepted.labels(source).inc()
    assert _label_values(registry) == {"form:contact", "segment:web", UNREGISTERED_FORMS}


def test_before_the_registry_is_known_no_form_gets_a_series_of_its_own() -> None:
    registry = CollectorRegistry()
    accepted = BySource(Counter("accepted", "", ["source"], registry=registry))
    accepted.labels("form:anything").inc()
    accepted.labels("segment:web").inc()
    assert _label_values(registry) == {UNREGISTERED_FORMS, "segment:web"}


def test_every_counter_labelled_by_source_is_bounded() -> None:
    # Suppressed events come from any form id too (an erased person posting anywhere).
    assert isinstance(ACCEPTED, BySource)
    assert isinstance(SUPPRESSED, BySource)


def test_a_registry_knows_only_its_sources_under_their_own_kind() -> None:
    known = SourceRegistry.of([Source("contact", SourceKind.FORM)])
    assert known.knows("form:contact")
    assert not known.knows("segment:contact")
    assert not known.knows("form:other")


def test_a_key_retried_with_the_same_content_is_fine_and_with_other_content_is_409() -> None:
    keys = RecentKeys()
    first = content_digest({"email": "a@b.de", "title": "CTO"})
    assert content_digest({"title": "CTO", "email": "a@b.de"}) == first
    keys.claim("contact", "k-1", first, now_s=0.0)
    keys.claim("contact", "k-1", first, now_s=1.0)
    keys.claim("newsletter", "k-1", content_digest({"email": "c@d.de"}), now_s=1.0)
    with pytest.raises(KeyReused) as reused:
        keys.claim("contact", "k-1", content_digest({"email": "c@d.de"}), now_s=2.0)
    assert (reused.value.status, reused.value.field) == (409, "Idempotency-Key")


def test_remembered_keys_are_bounded_in_time_and_number() -> None:
    keys = RecentKeys(keep_s=10.0, capacity=3)
    keys.claim("f", "old", "a", now_s=0.0)
    keys.claim("f", "old", "b", now_s=11.0)  # forgotten after keep_s
    for n in range(5):
        keys.claim("f", f"k{n}", "a", now_s=12.0)
    keys.claim("f", "k0", "b", now_s=12.0)  # pushed out by newer keys
    assert len(keys._seen) <= 3


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "/danke",
        "https:danke",
        "ftp://files.example/",
    ],
)
def test_a_thank_you_page_must_be_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        thank_you_url(url)


def test_an_http_thank_you_page_is_kept() -> None:
    assert thank_you_url("https://www.kunde.example/danke?x=1") == (
        "https://www.kunde.example/danke?x=1"
    )


def test_source_add_refuses_a_javascript_thank_you_page_before_touching_anything() -> None:
    result = CliRunner().invoke(
        sources_cli, ["add", "contact", "--kind", "form", "--thank-you", "javascript:alert(1)"]
    )
    assert result.exit_code == 2
    assert "--thank-you" in result.output
    assert "http" in result.output


def test_a_stored_javascript_thank_you_page_is_never_redirected_to() -> None:
    source = Source("contact", SourceKind.FORM, thank_you_url="javascript:alert(1)")
    answer = _accepted(HTML_FORM, source, "event-1", {})
    assert answer.status_code == 202
    assert "location" not in answer.headers
    good = Source("contact", SourceKind.FORM, thank_you_url="https://kunde.example/danke")
    assert _accepted(HTML_FORM, good, "event-1", {}).headers["location"] == (
        "https://kunde.example/danke"
    )


def test_an_unsigned_webhooks_idempotency_key_is_scoped_to_its_body() -> None:
    assert body_scoped("k-1", b'{"a": 1}') == body_scoped("k-1", b'{"a": 1}')
    assert body_scoped("k-1", b'{"a": 1}') != body_scoped("k-1", b'{"a": 2}')
    assert body_scoped(None, b"{}") is None

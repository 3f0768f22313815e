from collections.abc import Callable
from typing import TypeVar

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadpipe.ingest.domain import emails
from leadpipe.ingest.domain.emails import fast_normalised, normalise_email
from leadpipe.ingest.domain.forms import FieldError
from leadpipe.ingest.domain.forms import normalise_email as normalise_email_from_forms

T = TypeVar("T")
EMAILISH = 'aZ09.-_+@"\\ü \n'
SPECIAL_USE = ["arpa", "invalid", "local", "localhost", "onion", "test"]


def library_only(raw: object) -> str:
    """normalise_email as it was before the fast path: the library decides everything."""
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError("email", "is required")
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldError("email", str(exc)) from exc
    return checked.normalized.lower()


def outcome(normalise: Callable[[object], str], raw: object) -> tuple[str, str | None, str]:
    """("accepted", None, normalised) or ("refused", field, reason)."""
    try:
        return ("accepted", None, normalise(raw))
    except FieldError as error:
        return ("refused", error.field, error.reason)


def assert_same_as_library(raw: object) -> None:
    assert outcome(normalise_email, raw) == outcome(library_only, raw)
    if isinstance(raw, str) and (fast := fast_normalised(raw)) is not None:
        assert fast == library_only(raw)


def mostly(usual: st.SearchStrategy[T], unusual: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``usual`` three times in four: enough plain addresses to exercise the fast path."""
    return st.one_of(usual, usual, usual, unusual)


atext = st.sampled_from("abcXYZ019!#$%&'*+/=?^_`{|}~-")
# Characters the fast path must leave to the library. The last four are the non-ASCII
# characters a case-insensitive [a-z] would match.
oddities = st.sampled_from(['"', " ", "(", "@", "\\", "<", "ü", "ß", "\n", "\u212a", "ſ", "ı", "İ"])
atom = mostly(
    st.text(atext, min_size=1, max_size=8),
    st.text(st.one_of(atext, oddities), max_size=4),  # empty atoms make dot errors
)
local_parts = mostly(
    st.lists(atom, min_size=1, max_size=4).map(".".join),
    st.one_of(
        st.integers(min_value=60, max_value=70).map(lambda n: "a" * n),
        atom.map(lambda s: f'"{s}"'),
    ),
)

plain_label = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
ldh = st.sampled_from("abcXYZ0189-")
label = mostly(
    plain_label,
    st.one_of(
        st.text(ldh, max_size=8),
        st.text(ldh, max_size=4).map(lambda s: "xn--" + s),
        st.text(ldh, max_size=4).map(lambda s: "XN--" + s),
        st.text(ldh, max_size=4).map(lambda s: "ab--" + s),
        st.text(ldh, max_size=4).map(lambda s: "a-" + s),
        st.just("xn--mnchen-3ya"),
        st.integers(min_value=62, max_value=64).map(lambda n: "d" * n),
        st.sampled_from(["ü", "exämple", "\u212aelvin", "localhoſt", "a_b", "ı", "İ"]),
    ),
)
tld = mostly(
    st.sampled_from(["de", "com", "COM", "io", "museum"]),
    st.one_of(
        st.sampled_from(["c", "x1", "123", "1a", "-de", "de-", "xn--p1ai", "teſt", ""]),
        st.sampled_from(SPECIAL_USE),
        st.sampled_from(SPECIAL_USE).map(str.upper),
    ),
)
domains = st.builds(
    lambda labels, last: ".".join([*labels, last]),
    mostly(st.lists(label, min_size=1, max_size=3), st.lists(label, max_size=4)),
    tld,
)
suffixes = mostly(st.just(""), st.sampled_from(["\n", " ", ".", "\t", "\r\n", "\u00a0"]))


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    return draw(mostly(st.just(""), st.just(" "))) + (
        draw(local_parts) + "@" + draw(domains) + draw(suffixes)
    )


@st.composite
def around_length_limits(draw: st.DrawFn) -> str:
    """Plain addresses of 250-258 characters, local parts around 64, labels around 63."""
    local = "l" * draw(st.integers(min_value=1, max_value=70))
    total = draw(st.integers(min_value=250, max_value=258))
    label_size = draw(st.integers(min_value=60, max_value=64))
    rest = total - len(local) - 1 - len(".de")
    labels = []
    while rest > 0:
        size = min(label_size, rest)
        labels.append("m" * size)
        rest -= size + 1
    return local + "@" + ".".join([*labels, "de"])


@settings(max_examples=300)
@given(st.one_of(st.text(), st.text(st.sampled_from(EMAILISH)), st.none(), st.integers()))
def test_arbitrary_input_is_normalised_as_the_library_does(raw: object) -> None:
    assert_same_as_library(raw)


@settings(max_examples=2000)
@given(near_valid())
@example("anna.schmidt@example-gmbh.de\n")
@example("x@x.test")
@example("a@foo.local")
@example("a@bar.onion")
@example("a@a.invalid")
@example("a@localhost")
@example("a@sub.LOCALHOST")
@example("a@mail.123")
@example("a@xn--mnchen-3ya.de")
@example("a@xn--.de")
@example("a@ab--c.de")
@example("info@Example.COM")
def test_near_valid_addresses_are_normalised_as_the_library_does(raw: str) -> None:
    assert_same_as_library(raw)


@settings(max_examples=500)
@given(around_length_limits())
def test_long_addresses_are_normalised_as_the_library_does(raw: str) -> None:
    assert_same_as_library(raw)


def test_a_common_address_takes_the_fast_path() -> None:
    assert fast_normalised("Anna.Schmidt@Example-GmbH.de") == "anna.schmidt@example-gmbh.de"


def test_the_fast_path_does_not_call_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the library was called")

    monkeypatch.setattr(emails, "validate_email", refuse)
    assert normalise_email(" Anna.Schmidt@Example-GmbH.de ") == "anna.schmidt@example-gmbh.de"


@pytest.mark.parametrize(
    "address",
    [
        "anna.schmidt@münchen.de",
        "jürgen@example.de",
        '"anna schmidt"@example.de',
        "anna@xn--mnchen-3ya.de",
        "anna@example.123",
        "anna@example.test",
        "anna@localhost",
        "anna.schmidt@example-gmbh.de\n",
        "Anna <anna@example.de>",
        "a" * 65 + "@example.de",
        "a@" + "b" * 64 + ".de",
        "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 59 + ".de",
    ],
)
def test_anything_unusual_is_left_to_the_library(address: str) -> None:
    assert fast_normalised(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "a" * 64 + "@example.de",
        "a@" + "b" * 63 + ".de",
        "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 58 + ".de",
    ],
)
def test_addresses_at_the_length_limits_take_the_fast_path(address: str) -> None:
    assert fast_normalised(address) == library_only(address)


def test_special_use_domains_are_read_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    extended = [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "example-gmbh.de"]
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", extended)
    assert fast_normalised("anna@example-gmbh.de") is None
    with pytest.raises(FieldError, match="special-use or reserved name"):
        normalise_email("anna@Example-GmbH.de")


def test_blank_or_missing_email_is_required() -> None:
    for raw in [None, "", "   ", 42]:
        with pytest.raises(FieldError) as error:
            normalise_email(raw)
        assert (error.value.field, error.value.reason) == ("email", "is required")


def test_an_email_is_trimmed_and_lower_cased() -> None:
    assert normalise_email(" Max.Mustermann@Example.COM ") == "max.mustermann@example.com"


def test_an_invalid_email_says_why() -> None:
    with pytest.raises(FieldError) as error:
        normalise_email("max@")
    assert error.value.reason == "There must be something after the @-sign."


def test_forms_still_exports_normalise_email() -> None:
    assert normalise_email_from_forms is normalise_email

import httpx

from leadpipe.cli.refusals import refusal
from leadpipe.shared.problems import problem_response


def test_a_problem_document_is_printed_as_its_fields_and_reasons() -> None:
    sent = problem_response(
        422,
        [
            {"field": "reps.1.email", "reason": "a@sales.example appears twice"},
            {"field": None, "reason": "nothing imported"},
        ],
    )
    response = httpx.Response(422, headers=dict(sent.headers), content=bytes(sent.body))
    assert refusal(response) == "reps.1.email: a@sales.example appears twice; nothing imported"


def test_any_other_body_is_printed_as_it_came() -> None:
    assert refusal(httpx.Response(502, text="bad gateway")) == "bad gateway"

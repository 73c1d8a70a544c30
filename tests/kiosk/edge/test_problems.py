"""Error answers read as data (kiosk.edge.problems)."""

from __future__ import annotations

import json

import pytest

from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.edge.problems import MAX_RETRY_AFTER_S, parse_retry_after, problem_from

PROBLEM = "application/problem+json"


def _body(**members: object) -> bytes:
    return json.dumps({"type": "t", "title": "Operator text", "status": 403, **members}).encode()


def test_a_problem_keeps_its_code_title_and_extensions() -> None:
    error = problem_from(403, PROBLEM, _body(code="card-not-valid", card_status="replaced"),
                         None, "POST /sessions")
    assert isinstance(error, EdgeProblem)
    assert (error.code, error.title, error.card_status) == (
        "card-not-valid", "Operator text", "replaced")


@pytest.mark.parametrize("content", [
    _body(code=""), _body(code="x" * 65), _body(code=7), b"not json", b"[" * 50_000,
])
def test_what_is_not_a_problem_is_an_invalid_response(content: bytes) -> None:
    error = problem_from(400, PROBLEM, content, None, "GET /x")
    assert isinstance(error, EdgeProblem) and error.code == "invalid-response"


def test_a_gateway_page_is_unreachable() -> None:
    assert isinstance(problem_from(504, "text/html", b"<html/>", None, "GET /x"),
                      EdgeUnreachable)


def test_a_long_title_and_detail_are_cut() -> None:
    error = problem_from(409, PROBLEM, _body(code="c", title="t" * 5000, detail="d" * 5000),
                         None, "GET /x")
    assert isinstance(error, EdgeProblem)
    assert len(error.title) == 200 and len(error.detail) == 200


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("7", 7.0), ("99999999", MAX_RETRY_AFTER_S),
    ("７", None),  # a full-width digit is not delay-seconds
    ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
])
def test_retry_after_is_bounded(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_an_http_date_retry_after_counts_from_now() -> None:
    now = 1_445_412_450.0  # 2015-10-21 07:27:30 UTC
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0

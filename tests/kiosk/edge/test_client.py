"""The edge client against a small real HTTP server on loopback (stdlib, scripted answers).

One attempt per call, a total deadline, a bounded answer validated as data."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from kiosk.edge.client import EdgeClient
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.edge.keys import new_idempotency_key
from kiosk.flow.identify.card import card_credential
from simulators.stack.ports import free_port
from tests.kiosk.edge.fake_edge import Answer, problem
from tests.kiosk.fakes import sample_card

TOKEN = "dev1.kiosk-001.c2lnbmF0dXJl"
CREDENTIAL = card_credential(sample_card())

OPENED = {
    "session_id": "ses_abc", "expires_at": "2026-11-22T10:15:00Z",
    "citizen": {"display_name": "张*", "gender": "1", "age": 76, "card_status": "normal"},
    "as_of": "2026-11-22T10:00:00Z", "stale": False, "new_field": "ignored",
}
BENEFITS = {
    "as_of": "2026-11-22T10:00:00Z", "stale": True,
    "participation": [{"scheme": "employee-pension", "scheme_name": "城镇职工基本养老保险",
                       "status": "receiving", "since": "2009-01"}],
    "pension_payments": [{"period": "2026-10", "amount": "3456.78", "paid_on": "2026-10-15",
                          "status": "paid", "bank": "中国工商银行",
                          "account_masked": "6222****1234"}],
}


@pytest.fixture
def client_for() -> Iterator[Callable[..., EdgeClient]]:
    made: list[EdgeClient] = []

    def make(url: str, **kwargs: Any) -> EdgeClient:
        client = EdgeClient(url, "kiosk-001", TOKEN, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_open_session_sends_credential_key_and_card_in_the_body(edge, client_for) -> None:
    edge.script = [Answer(201, OPENED)]
    key = new_idempotency_key()
    opened = client_for(edge.url).open_session(CREDENTIAL, idempotency_key=key)

    assert opened.session_id == "ses_abc" and opened.citizen.display_name == "张*"
    assert opened.as_of is not None and not opened.stale
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("POST", "/api/v1/sessions")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Idempotency-Key"] == key
    # Only what the edge uses (edge_server/services/sessions.py): no name, no chip id code.
    assert seen.body == {"method": "card", "card": {
        "citizen_id": "11010519491231002X", "card_number": "A12345678"}}


def test_a_dropped_connection_is_one_attempt_then_unreachable(edge, client_for) -> None:
    edge.script = [Answer(0, drop=True), Answer(201, OPENED)]
    with pytest.raises(EdgeUnreachable):
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-1")
    assert len(edge.seen) == 1  # the flow retries, once per user action, not the client


def test_in_flight_is_reported_not_retried(edge, client_for) -> None:
    edge.script = [problem(409, "idempotency-key-in-flight"), Answer(201, OPENED)]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-1")
    assert caught.value.transient and len(edge.seen) == 1


def test_a_closed_port_is_unreachable(client_for) -> None:
    client = client_for(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EdgeUnreachable):
        client.get_benefits("ses_abc")


def test_a_hanging_edge_times_out_as_unreachable(edge, client_for) -> None:
    edge.script = [Answer(0, hang=True)]
    client = client_for(edge.url, deadline_s=0.3)
    with pytest.raises(EdgeUnreachable):
        client.get_benefits("ses_abc")


@pytest.mark.parametrize("body", [BENEFITS, "x" * 4000], ids=["trickled-json", "trickled-long"])
def test_a_trickled_answer_is_cut_at_the_total_deadline(edge, client_for, body) -> None:
    # Every byte arrives well within any per-read timeout; only a total deadline stops it.
    edge.script = [Answer(200, body, trickle_s=0.02)]
    client = client_for(edge.url, deadline_s=0.5)
    started = time.monotonic()
    with pytest.raises(EdgeUnreachable):
        client.get_benefits("ses_abc")
    # The whole answer would take 10 s or more; the bound is the deadline, plus slack for load.
    assert time.monotonic() - started < 5.0


def test_an_answer_over_the_size_bound_is_refused_unread(edge, client_for) -> None:
    edge.script = [Answer(200, BENEFITS, declared_length=300_000_000)]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).get_benefits("ses_abc")
    assert caught.value.code == "invalid-response" and "larger than" in str(caught.value)


def test_a_body_over_the_size_bound_is_refused(edge, client_for) -> None:
    big = {**BENEFITS, "padding": "x" * 5000}
    edge.script = [Answer(200, big)]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url, max_answer_bytes=4096).get_benefits("ses_abc")
    assert caught.value.code == "invalid-response"


@pytest.mark.parametrize(("field", "value"), [
    ("amount", "1000000000.00"),  # out of range
    ("amount", "12.345"),  # not yuan and fen
    ("period", "2026-13"),  # no such month
    ("status", "x" * 500),  # unbounded text
])
def test_payments_out_of_range_are_never_shown(edge, client_for, field, value) -> None:
    payment = {**BENEFITS["pension_payments"][0], field: value}
    edge.script = [Answer(200, {**BENEFITS, "pension_payments": [payment]})]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).get_benefits("ses_abc")
    assert caught.value.code == "invalid-response"


def test_too_many_payments_are_refused(edge, client_for) -> None:
    payments = BENEFITS["pension_payments"] * 61
    edge.script = [Answer(200, {**BENEFITS, "pension_payments": payments})]
    with pytest.raises(EdgeProblem):
        client_for(edge.url).get_benefits("ses_abc")


@pytest.mark.parametrize("session_id", ["", "ses/../x", "s" * 129])
def test_a_malformed_session_id_is_refused(edge, client_for, session_id) -> None:
    edge.script = [Answer(201, {**OPENED, "session_id": session_id})]
    with pytest.raises(EdgeProblem):
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-9")


def test_a_deeply_nested_error_body_is_an_invalid_response(edge, client_for) -> None:
    edge.script = [Answer(400, "[" * 100_000 + "]" * 100_000, "application/problem+json")]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).get_benefits("ses_abc")
    assert (caught.value.code, caught.value.status) == ("invalid-response", 400)


def test_problems_are_parsed_into_codes(edge, client_for) -> None:
    edge.script = [problem(503, "central-unavailable", retry_after=7)]
    client = client_for(edge.url)
    with pytest.raises(EdgeProblem) as caught:
        client.open_session(CREDENTIAL, idempotency_key="k-2")
    exc = caught.value
    assert (exc.code, exc.status, exc.retry_after_s) == ("central-unavailable", 503, 7.0)
    assert exc.transient
    assert len(edge.seen) == 1  # the flow decides about these retries, not the client


def test_card_not_valid_carries_the_card_status(edge, client_for) -> None:
    edge.script = [problem(403, "card-not-valid", card_status="reported-lost")]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-3")
    assert caught.value.code == "card-not-valid"
    assert caught.value.card_status == "reported-lost"
    assert not caught.value.transient


def test_validation_errors_keep_their_details(edge, client_for) -> None:
    edge.script = [problem(422, "validation-error",
                           errors=[{"loc": ["body", "card"], "msg": "missing", "type": "x"}])]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-4")
    assert caught.value.code == "validation-error"
    assert caught.value.extra["errors"][0]["loc"] == ["body", "card"]


def test_a_gateway_error_page_means_unreachable(edge, client_for) -> None:
    edge.script = [Answer(502, "<html>Bad Gateway</html>", "text/html")]
    with pytest.raises(EdgeUnreachable):
        client_for(edge.url).get_benefits("ses_abc")


def test_a_non_problem_error_is_an_invalid_response(edge, client_for) -> None:
    edge.script = [Answer(404, "<html>Not Found</html>", "text/html")]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).get_benefits("ses_abc")
    assert (caught.value.code, caught.value.status) == ("invalid-response", 404)


def test_an_unreadable_answer_body_is_an_invalid_response(edge, client_for) -> None:
    edge.script = [Answer(201, {"session_id": "ses_abc"})]  # no citizen
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-5")
    assert caught.value.code == "invalid-response"


def test_benefits_keep_money_exact(edge, client_for) -> None:
    edge.script = [Answer(200, BENEFITS)]
    benefits = client_for(edge.url).get_benefits("ses_abc")
    assert edge.seen[0].path == "/api/v1/sessions/ses_abc/benefits"
    assert "Idempotency-Key" not in edge.seen[0].headers  # GET changes nothing
    assert benefits.stale and benefits.pension_payments[0].amount == Decimal("3456.78")
    assert benefits.participation[0].status == "receiving"


def test_end_session_deletes_with_its_key(edge, client_for) -> None:
    edge.script = [Answer(204)]
    assert client_for(edge.url).end_session("ses_abc", idempotency_key="end-1") is None
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("DELETE", "/api/v1/sessions/ses_abc")
    assert seen.headers["Idempotency-Key"] == "end-1"


def test_health_needs_no_session(edge, client_for) -> None:
    edge.script = [Answer(200, {"status": "ok", "version": "0.1.0", "central": "reachable"})]
    assert client_for(edge.url).health().central == "reachable"


def test_nothing_about_the_citizen_is_logged(edge, client_for, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    edge.script = [Answer(0, drop=True), Answer(201, OPENED), Answer(200, BENEFITS),
                   problem(404, "session-not-found")]
    client = client_for(edge.url)
    with pytest.raises(EdgeUnreachable):
        client.open_session(CREDENTIAL, idempotency_key="k-6")
    client.open_session(CREDENTIAL, idempotency_key="k-6")
    client.get_benefits("ses_abc")
    with pytest.raises(EdgeProblem):
        client.get_benefits("ses_abc")
    text = "\n".join(r.getMessage() for r in caplog.records)  # httpx's own loggers too
    assert "POST /sessions" in text  # it does log, as templates
    for secret in ("11010519491231002X", "张三", "A12345678", "ses_abc", "3456", TOKEN):
        assert secret not in text


def test_an_unreadable_answer_names_fields_but_never_values(edge, client_for) -> None:
    body = {**OPENED, "citizen": {"display_name": ["张*"], "age": "seventy-six"}}
    edge.script = [Answer(201, body)]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(CREDENTIAL, idempotency_key="k-7")
    exc = caught.value
    assert "citizen.display_name" in str(exc)
    # pydantic's message quotes the values: it must not ride along as the cause either.
    assert exc.__cause__ is None and exc.__suppress_context__
    assert "张" not in str(exc) and "seventy-six" not in str(exc)


def test_answers_print_no_citizen_data() -> None:
    from kiosk.edge.models import Benefits, SessionOpened

    opened = SessionOpened.model_validate(OPENED)
    benefits = Benefits.model_validate(BENEFITS)
    as_logged = "%s" % (benefits,)  # noqa: UP031 (what log.info("%s", x) does)
    shown = [repr(opened), str(opened), f"{opened.citizen}", as_logged,
             str(benefits.pension_payments[0]), repr(benefits.participation[0])]
    text = " ".join(shown)
    for secret in ("ses_abc", "张", "3456", "6222", "工商", "receiving"):
        assert secret not in text


# The edge's newer problem codes -------------------------------------------------------------

@pytest.mark.parametrize(("answer", "code", "transient", "refused", "retry_after"), [
    (problem(429, "too-many-requests", retry_after=9), "too-many-requests", True, False, 9.0),
    (problem(401, "token-expired"), "token-expired", False, True, None),
    (problem(401, "unauthorized"), "unauthorized", False, True, None),
    (problem(400, "bad-request"), "bad-request", False, False, None),
    (problem(415, "unsupported-media-type"), "unsupported-media-type", False, False, None),
    (problem(405, "method-not-allowed"), "method-not-allowed", False, False, None),
])
def test_the_edges_newer_codes_say_whether_to_retry(
    edge, client_for, answer, code, transient, refused, retry_after
) -> None:
    edge.script = [answer]
    heard: list[str] = []
    client = client_for(edge.url, on_credential_refused=lambda p: heard.append(p.code))
    with pytest.raises(EdgeProblem) as caught:
        client.open_session(CREDENTIAL, idempotency_key=new_idempotency_key())
    error = caught.value
    assert (error.code, error.transient, error.credential_refused) == (code, transient, refused)
    assert error.retry_after_s == retry_after
    assert heard == ([code] if refused else [])
    assert len(edge.seen) == 1  # one attempt: retries are the flow's


def test_a_listener_that_fails_does_not_hide_the_problem(edge, client_for) -> None:
    edge.script = [problem(401, "token-expired")]

    def broken(_problem: EdgeProblem) -> None:
        raise RuntimeError("boom")

    with pytest.raises(EdgeProblem):
        client_for(edge.url, on_credential_refused=broken).get_benefits("ses_abc")


def test_a_swapped_token_is_sent_whole_by_every_later_call(edge, client_for) -> None:
    edge.script = [Answer(204)]
    client = client_for(edge.url)
    old, new = f"Bearer {TOKEN}", "Bearer dev2.kiosk-001.1900000000.bmV3"

    def calls() -> None:
        for _ in range(20):
            client.end_session("ses_abc", idempotency_key=new_idempotency_key())

    workers = [threading.Thread(target=calls) for _ in range(3)]
    for worker in workers:
        worker.start()
    client.set_token(new.removeprefix("Bearer "))
    for worker in workers:
        worker.join()
    client.end_session("ses_abc", idempotency_key=new_idempotency_key())

    seen = [s.headers["Authorization"] for s in edge.seen]
    assert set(seen) <= {old, new} and seen[-1] == new

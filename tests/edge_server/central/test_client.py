"""The central client: what each answer maps to, the API key, bounds on calls in flight."""

import threading

import httpx
import pytest

from edge_server.central import (
    BadAnswer,
    CentralNotFound,
    CentralUnavailable,
    TokenExpired,
    TokenInvalid,
    client_from_settings,
)
from edge_server.settings import EdgeSettings
from tests.edge_server.central.answers import (
    CITIZEN,
    OTHER,
    client,
    json_response,
    payments_answer,
    person_answer,
    problem,
)


def test_a_contract_answer_is_returned_and_marks_reachable():
    c = client(lambda request: json_response(200, person_answer()))
    answer = c.query_person(CITIZEN)
    assert answer.person.citizen_id == CITIZEN and answer.person.name == "张三"
    assert c.reachability.state == "reachable"
    assert CITIZEN not in repr(answer) and "张三" not in repr(answer)


def test_payments_are_returned():
    c = client(lambda request: json_response(200, payments_answer()))
    assert [p.period for p in c.query_payments(CITIZEN).items] == ["2026-11", "2026-10"]


@pytest.mark.parametrize("response,error", [
    (problem(503, "maintenance"), CentralUnavailable),
    (problem(500, "boom"), CentralUnavailable),
    (problem(401, "unauthorized"), CentralUnavailable),
    (problem(404, "person-not-found"), CentralNotFound),
    (json_response(200, {"unexpected": True}), BadAnswer),
    (json_response(200, b"not json at all"), BadAnswer),
])
def test_answers_map_to_errors(response, error):
    c = client(lambda request: response)
    with pytest.raises(error):
        c.query_person(CITIZEN)


@pytest.mark.parametrize("response", [
    httpx.Response(404, text="Not Found", headers={"content-type": "text/plain"}),
    json_response(404, {"code": "person-not-found"}),  # the code, but not as problem+json
    problem(404, "not-found"),  # a gateway's own problem code
    json_response(404, b"{" * 100_000, "application/problem+json"),
    problem(400, "bad-request"),
])
def test_a_404_without_the_contract_code_is_an_upstream_fault(response):
    c = client(lambda request: response)
    with pytest.raises(BadAnswer) as raised:
        c.query_person(CITIZEN)
    assert not isinstance(raised.value, CentralNotFound)
    assert c.bad_answers.total == 1
    assert c.reachability.state == "unreachable"


def test_the_api_key_is_sent_and_the_id_only_in_the_body():
    seen: list[httpx.Request] = []

    def answer(request):
        seen.append(request)
        return problem(404, "person-not-found")

    with pytest.raises(CentralNotFound):
        client(answer).query_person(CITIZEN)
    assert seen[0].headers["authorization"] == "Bearer k"
    assert seen[0].headers["accept-encoding"] == "identity"
    assert CITIZEN not in str(seen[0].url)
    assert CITIZEN.encode() in seen[0].content


@pytest.mark.parametrize("response,error", [
    (problem(410, "token-expired"), TokenExpired),
    (problem(422, "token-invalid"), TokenInvalid),
    (problem(422, "validation-error"), CentralUnavailable),
    (problem(410, "gone"), CentralUnavailable),
    (problem(503, "maintenance"), CentralUnavailable),
])
def test_ecard_token_refusals(response, error):
    with pytest.raises(error):
        client(lambda request: response).verify_ecard_token("opaque")


def test_another_citizens_record_is_refused_counted_and_not_logged(caplog):
    body = person_answer()
    body["person"]["citizen_id"] = OTHER
    body["person"]["birth_date"] = "1951-03-02"
    c = client(lambda request: json_response(200, body))
    with pytest.raises(BadAnswer):
        c.query_person(CITIZEN)
    assert c.bad_answers.snapshot() == {"person.citizen_id: not the citizen asked for": 1}
    assert "not the citizen asked for" in caplog.text
    assert OTHER not in caplog.text and CITIZEN not in caplog.text and "张三" not in caplog.text


@pytest.mark.parametrize("media_type", ["text/html", "text/plain", "application/xml", ""])
def test_a_200_that_is_not_json_by_its_content_type_is_refused(media_type):
    c = client(lambda request: json_response(200, person_answer(), media_type))
    with pytest.raises(BadAnswer, match="content-type"):
        c.query_person(CITIZEN)


def test_connection_failure_and_timeout_are_unavailable():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    def slow(request):
        raise httpx.ReadTimeout("slow", request=request)

    for answer in (refuse, slow):
        c = client(answer)
        with pytest.raises(CentralUnavailable):
            c.query_person(CITIZEN)
        assert c.reachability.state == "unreachable"
        assert c.bad_answers.total == 0, "an outage is not a bad answer"


def test_calls_beyond_the_in_flight_limit_fail_fast():
    inside, release = threading.Barrier(3), threading.Event()

    def answer(request):
        if not release.is_set():  # the first two calls wait inside, together
            inside.wait(10)
            release.wait(10)
        return json_response(200, person_answer())

    c = client(answer, max_in_flight=2)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(c.query_person(CITIZEN)))
               for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait(10)  # both calls are in flight
    with pytest.raises(CentralUnavailable, match="in flight"):
        c.query_person(CITIZEN)
    release.set()
    for t in threads:
        t.join(10)
    assert len(results) == 2
    c.query_person(CITIZEN)  # the slots are free again


def test_probe_reports_reachability_and_never_raises():
    c = client(lambda request: json_response(200, {"status": "ok", "as_of": "x"}))
    assert c.probe() is True and c.reachability.state == "reachable"

    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    c = client(refuse)
    assert c.probe() is False and c.reachability.state == "unreachable"


def test_client_verifies_an_ecard_token_at_the_simulator(h):
    citizen = h.citizen()
    token = h.central.post("/sim/v1/ecard-tokens",
                           json={"citizen_id": citizen["citizen_id"], "ttl_s": 60}).json()["token"]
    answer = h.edge.app.state.edge.central.verify_ecard_token(token)
    assert answer.citizen_id == citizen["citizen_id"]
    assert answer.expires_at.isoformat() == "2026-11-22T02:01:00+00:00"
    assert citizen["citizen_id"] not in repr(answer)
    h.clock.advance(60)
    with pytest.raises(TokenExpired):
        h.edge.app.state.edge.central.verify_ecard_token(token)


def test_the_settings_give_the_limits(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_CENTRAL_DEADLINE_S", "2.5")
    monkeypatch.setenv("EDGE_CENTRAL_MAX_ANSWER_BYTES", "65536")
    settings = EdgeSettings(data_dir=tmp_path, central_api_key="k", hall_secret="s" * 32,
                            central_timeout_s=1.5, central_max_in_flight=3)
    c = client_from_settings(settings)
    try:
        assert (c.limits.deadline_s, c.limits.timeout_s) == (2.5, 1.5)
        assert (c.limits.max_answer_bytes, c.limits.max_in_flight) == (65536, 3)
    finally:
        c.close()

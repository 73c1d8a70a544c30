"""The contract's Freshness rules: TTL, stale answers from the cache, 503 when nothing usable."""

import httpx
import pytest

from edge_server.central_client import (
    CentralClient,
    CentralNotFound,
    CentralUnavailable,
    TokenExpired,
    TokenInvalid,
)
from tests.edge_server.support import PROBLEM, hall

PERSON = "/central/v1/persons/query"
PAYMENTS = "/central/v1/pension-payments/query"


def test_within_ttl_the_cache_answers_without_asking(h):
    citizen = h.citizen()
    first = h.open(citizen).json()
    h.clock.advance(299)
    h.outage()
    calls = len(h.link.calls)
    second = h.open(citizen)
    assert second.status_code == 201
    assert second.json()["stale"] is False, "within the TTL the cache is fresh"
    assert second.json()["as_of"] == first["as_of"]
    assert len(h.link.calls) == calls, "central was not asked"


def test_after_ttl_central_is_asked_again(h):
    citizen = h.citizen()
    h.open(citizen)
    h.clock.advance(300)
    calls = h.link.calls.count(PERSON)
    r = h.open(citizen)
    assert h.link.calls.count(PERSON) == calls + 1
    assert r.json()["as_of"] == "2026-11-22T02:05:00Z" and r.json()["stale"] is False


@pytest.mark.parametrize("how", ["outage", "connection-refused"])
def test_unreachable_central_gives_stale_cache_then_503(h, how):
    citizen = h.citizen(receiving_pension=True)
    first = h.open(citizen).json()
    h.benefits(first["session_id"])  # caches the payments too
    h.clock.advance(3600)
    if how == "outage":
        h.outage()
    else:
        h.link.down = True

    r = h.open(citizen)
    assert r.status_code == 201
    assert r.json()["stale"] is True
    assert r.json()["as_of"] == first["as_of"]
    b = h.benefits(r.json()["session_id"])
    assert b.status_code == 200 and b.json()["stale"] is True
    assert b.json()["as_of"] == first["as_of"]

    h.clock.advance(7 * 24 * 3600)  # now older than cache_max_stale_s
    r = h.open(citizen)
    assert r.status_code == 503
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["retry-after"] == "30"
    assert r.json()["code"] == "central-unavailable"

    other = h.citizen(5)
    r = h.open(other)
    assert r.status_code == 503 and r.json()["code"] == "central-unavailable"


def test_back_online_answers_fresh_again(h):
    citizen = h.citizen()
    h.open(citizen)
    h.clock.advance(600)
    h.link.down = True
    assert h.open(citizen).json()["stale"] is True
    h.link.down = False
    r = h.open(citizen)
    assert r.json()["stale"] is False and r.json()["as_of"] == "2026-11-22T02:10:00Z"


def test_an_entry_cached_in_the_future_is_not_fresh(h):
    """The clock was set back (or another edge process runs ahead): the entry's age is
    unknown, so central is asked; if it cannot answer, the entry still serves as stale."""
    citizen = h.citizen()
    h.open(citizen)
    h.clock.advance(-3600)
    calls = h.link.calls.count(PERSON)
    r = h.open(citizen)
    assert h.link.calls.count(PERSON) == calls + 1, "central was asked"
    assert r.json()["stale"] is False and r.json()["as_of"] == "2026-11-22T01:00:00Z"

    h.clock.advance(-3600)
    h.link.down = True
    r = h.open(citizen)
    assert r.status_code == 201
    assert r.json()["stale"] is True and r.json()["as_of"] == "2026-11-22T01:00:00Z"


def test_central_server_errors_count_as_unreachable(h):
    citizen = h.citizen()
    h.open(citizen)
    h.clock.advance(600)
    h.central.put("/sim/v1/faults", json={"error_rate": 1.0})
    r = h.open(citizen)
    assert r.status_code == 201 and r.json()["stale"] is True


def test_payments_without_cache_is_503_even_if_the_person_is_cached(h):
    citizen = h.citizen(receiving_pension=True)
    sid = h.open(citizen).json()["session_id"]
    h.outage()
    r = h.benefits(sid)
    assert r.status_code == 503 and r.json()["code"] == "central-unavailable"


def test_zero_ttl_always_asks(tmp_path):
    with hall(tmp_path, cache_ttl_s=0) as h:
        citizen = h.citizen()
        h.open(citizen)
        h.open(citizen)
        assert h.link.calls.count(PERSON) == 2


def test_latency_beyond_the_timeout_is_unreachable(tmp_path):
    central = httpx.MockTransport(lambda request: (_ for _ in ()).throw(
        httpx.ReadTimeout("slow", request=request)))
    client = CentralClient("http://central", "k", 0.1,
                           http=httpx.Client(base_url="http://central", transport=central))
    with pytest.raises(CentralUnavailable):
        client.query_person("11010519491231002X")
    assert client.reachability.state == "unreachable"


@pytest.mark.parametrize("status,body,error", [
    (503, {"code": "maintenance"}, CentralUnavailable),
    (500, {"code": "boom"}, CentralUnavailable),
    (401, {"code": "unauthorized"}, CentralUnavailable),
    (404, {"code": "person-not-found"}, CentralNotFound),
    (200, {"unexpected": True}, CentralUnavailable),
    (200, "not json at all", CentralUnavailable),
])
def test_client_maps_answers(status, body, error):
    def answer(request):
        if isinstance(body, str):
            return httpx.Response(status, content=body.encode())
        return httpx.Response(status, json=body)

    client = CentralClient("http://central", "k", 1,
                           http=httpx.Client(base_url="http://central",
                                             transport=httpx.MockTransport(answer)))
    with pytest.raises(error):
        client.query_person("11010519491231002X")


def test_client_sends_the_api_key_and_id_only_in_the_body():
    seen = []

    def answer(request):
        seen.append(request)
        return httpx.Response(404, json={"code": "person-not-found"})

    client = CentralClient("http://central", "secret-key", 1,
                           http=httpx.Client(base_url="http://central",
                                             transport=httpx.MockTransport(answer)))
    with pytest.raises(CentralNotFound):
        client.query_person("11010519491231002X")
    assert seen[0].headers["authorization"] == "Bearer secret-key"
    assert "11010519491231002X" not in str(seen[0].url)
    assert b"11010519491231002X" in seen[0].content


@pytest.mark.parametrize("status,body,error", [
    (410, {"code": "token-expired"}, TokenExpired),
    (422, {"code": "token-invalid"}, TokenInvalid),
    (422, {"code": "validation-error"}, CentralUnavailable),
    (503, {"code": "maintenance"}, CentralUnavailable),
])
def test_client_maps_ecard_token_refusals(status, body, error):
    client = CentralClient("http://central", "k", 1, http=httpx.Client(
        base_url="http://central",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body))))
    with pytest.raises(error):
        client.verify_ecard_token("opaque")


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

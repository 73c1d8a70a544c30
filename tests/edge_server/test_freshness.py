"""The contract's Freshness rules: TTL, stale answers from the cache, 503 when nothing usable."""

import pytest

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

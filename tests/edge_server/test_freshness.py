"""The contract's Freshness rules: TTL, stale answers from the cache, 503 when nothing usable."""

import threading

import pytest

from common.clock import iso_utc
from common.problem import Problem
from edge_server.context import CacheStats
from edge_server.services import citizens
from tests.edge_server.support import PROBLEM, hall

PERSON = "/central/v1/persons/query"
PAYMENTS = "/central/v1/pension-payments/query"


def test_within_ttl_the_cache_answers_without_asking(h):
    """Reads (benefits); identify always asks central first (card status, `refresh`)."""
    citizen = h.citizen(receiving_pension=True)
    opened = h.open(citizen).json()
    first = h.benefits(opened["session_id"]).json()
    h.clock.advance(299)
    h.outage()
    calls = len(h.link.calls)
    second = h.benefits(opened["session_id"])
    assert second.status_code == 200
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


# -- refresh (identify checks the card's status on every identify) and the hit counters --------
def _ctx(h):
    return h.edge.app.state.edge


def test_refresh_asks_central_within_the_ttl(h):
    citizen = h.citizen()
    h.open(citizen)
    h.clock.advance(10)
    calls = h.link.calls.count(PERSON)
    fresh = citizens.person(_ctx(h), citizen["citizen_id"], refresh=True)
    assert h.link.calls.count(PERSON) == calls + 1
    assert fresh.stale is False and iso_utc(fresh.as_of) == "2026-11-22T02:00:10Z"
    # and the refreshed answer is what the cache serves next, without asking
    again = citizens.person(_ctx(h), citizen["citizen_id"])
    assert h.link.calls.count(PERSON) == calls + 1 and again.as_of == fresh.as_of


def test_refresh_falls_back_to_the_cache_when_central_is_unavailable(h):
    citizen = h.citizen()
    first = h.open(citizen).json()
    h.clock.advance(10)
    h.link.down = True
    fresh = citizens.person(_ctx(h), citizen["citizen_id"], refresh=True)
    assert fresh.stale is True and iso_utc(fresh.as_of) == first["as_of"]
    assert fresh.value.citizen_id == citizen["citizen_id"]


def test_refresh_without_a_cache_and_central_down_is_503(h):
    citizen = h.citizen()
    h.link.down = True
    with pytest.raises(Problem) as caught:
        citizens.person(_ctx(h), citizen["citizen_id"], refresh=True)
    assert (caught.value.status, caught.value.code) == (503, "central-unavailable")


def test_cache_stats_count_hits_and_misses(h):
    stats = _ctx(h).cache_stats
    assert (stats.hits, stats.misses, stats.ratio()) == (0, 0, None)
    citizen = h.citizen(receiving_pension=True)
    sid = h.open(citizen).json()["session_id"]  # person: miss
    assert (stats.hits, stats.misses) == (0, 1)
    h.benefits(sid)  # person: hit, payments: miss
    h.benefits(sid)  # both hits
    assert (stats.hits, stats.misses) == (3, 2)
    assert stats.ratio() == pytest.approx(0.6)
    h.clock.advance(301)
    h.link.down = True
    h.benefits(sid)  # both asked (and failed: stale), so misses
    assert (stats.hits, stats.misses) == (3, 4)
    citizens.person(_ctx(h), citizen["citizen_id"], refresh=True)
    assert stats.misses == 5


def test_cache_stats_are_exact_under_threads():
    stats = CacheStats()
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait()
        for _ in range(2000):
            stats.hit() if n % 2 else stats.miss()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (stats.hits, stats.misses, stats.ratio()) == (8000, 8000, 0.5)

"""A bad central answer, whatever its shape, is an outage: the cache answers as stale, else
503 central-unavailable. It is never shown, never stored, and never deletes the cache.

Through the edge app and the central simulator's hostile modes (in-process; the real
processes are in tests/edge_server/central/test_processes.py).
"""

import pytest
from sqlmodel import col, select

from edge_server.central import CentralClient
from edge_server.context import OpenedMemo
from edge_server.db import session_scope
from edge_server.models import CitizenCacheEntry
from tests.edge_server.central.answers import client, problem
from tests.edge_server.support import PROBLEM, hall

# Each mode the simulator can answer in; trickle needs real sockets (process tests).
MODES = [
    ("other-citizen", {}),
    ("out-of-range", {}),
    ("bare-404", {}),
    ("deep-nesting", {"nesting_depth": 100_000}),
    ("invalid-utf8", {}),
    ("wrong-content-type", {}),
    ("oversized", {"oversized_bytes": 2 * 1024 * 1024}),  # over the 1 MB cap
]
# Modes that the simulator applies to persons/query only (payments carry no identity).
PERSONS_ONLY = {"other-citizen"}


def hostile(h, mode, **params) -> None:
    assert h.central.put("/sim/v1/faults", json={"hostile": mode, **params}).status_code == 200


def cache_rows(h) -> list[tuple]:
    entry = CitizenCacheEntry
    with session_scope(h.edge.app.state.edge.engine, write=False) as db:
        rows = db.exec(select(entry).order_by(col(entry.citizen_key), col(entry.kind))).all()
        return [(r.citizen_key, r.kind, r.payload, r.as_of, r.fetched_at) for r in rows]


def swap_central(h, central: CentralClient) -> None:
    h.edge.app.state.edge.central = central


@pytest.fixture
def cached(h):
    """A pensioner whose person and payments are cached, an hour ago."""
    citizen = h.citizen(receiving_pension=True, card_status="normal")
    opened = h.open(citizen)
    assert opened.status_code == 201
    assert h.benefits(opened.json()["session_id"]).status_code == 200
    h.clock.advance(3600)
    return citizen, opened.json()


@pytest.mark.parametrize("mode,params", MODES, ids=[m for m, _ in MODES])
def test_a_bad_answer_serves_the_cache_as_stale_and_stores_nothing(h, cached, mode, params):
    citizen, first = cached
    before = cache_rows(h)
    hostile(h, mode, **params)
    r = h.open(citizen)
    assert r.status_code == 201, r.text
    assert r.json()["stale"] is True and r.json()["as_of"] == first["as_of"]
    assert r.json()["citizen"] == first["citizen"], "the cached person, not the answer's"
    b = h.benefits(r.json()["session_id"])
    assert b.status_code == 200 and b.json()["stale"] is True
    assert all(not p["amount"].startswith("-") for p in b.json()["pension_payments"])
    after = cache_rows(h)
    if mode in PERSONS_ONLY:  # the payments answer was good, and stored
        before, after = before[1:], after[1:]  # the person's row
    assert after == before, "nothing stored, nothing deleted"
    central = h.edge.app.state.edge.central
    assert central.bad_answers.total >= 1
    if mode not in PERSONS_ONLY:  # else the good payments answer came last
        assert h.edge.get("/api/v1/health").json()["central"] == "unreachable"


@pytest.mark.parametrize("mode,params", MODES, ids=[m for m, _ in MODES])
def test_a_bad_answer_without_a_cache_is_503_never_5xx_else(h, mode, params):
    citizen = h.citizen(receiving_pension=True)
    hostile(h, mode, **params)
    r = h.open(citizen)
    assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")
    assert r.headers["content-type"] == PROBLEM and r.headers["retry-after"] == "30"
    assert citizen["citizen_id"] not in r.text
    assert cache_rows(h) == []


def test_payments_out_of_range_without_a_cache_are_503(h):
    citizen = h.citizen(receiving_pension=True)
    sid = h.open(citizen).json()["session_id"]
    hostile(h, "out-of-range")
    r = h.benefits(sid)
    assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")


def test_the_contracts_404_still_forgets_the_cached_citizen(h, cached):
    """Only `404 person-not-found` as problem+json means "no such person" (and the cache of
    that person goes); the same 404 without its code leaves the cache alone."""
    citizen, _ = cached
    before = cache_rows(h)
    assert len(before) == 2
    swap_central(h, client(lambda request: problem(404, "not-found")))
    assert h.open(citizen).json()["stale"] is True
    assert cache_rows(h) == before
    swap_central(h, client(lambda request: problem(404, "person-not-found")))
    r = h.open(citizen)
    assert (r.status_code, r.json()["code"]) == (404, "citizen-not-found")
    assert cache_rows(h) == []


def test_bad_answers_are_logged_by_rule_without_personal_data(h, caplog):
    citizen = h.citizen()
    detail = h.detail(citizen["index"] + 1)
    hostile(h, "other-citizen")
    assert h.open(citizen).status_code == 503
    assert "not the citizen asked for" in caplog.text
    for secret in (citizen["citizen_id"], citizen["name"], detail["citizen_id"], detail["name"]):
        assert secret not in caplog.text


def test_a_large_enough_cap_is_a_setting(tmp_path):
    with hall(tmp_path, central_max_answer_bytes=8 * 1024 * 1024) as h:
        citizen = h.citizen()
        hostile(h, "oversized", oversized_bytes=2 * 1024 * 1024)
        assert h.open(citizen).status_code == 201, "2 MB is within an 8 MB cap"


def test_a_changed_cache_row_is_never_answered_from_memory(h, cached):
    """Opened entries are remembered by their sealed bytes: once the row changes (here:
    tampered), the memory does not answer for it."""
    _, first = cached
    h.clock.advance(-3600)  # back within the TTL: the cache answers, central is not asked
    sid = first["session_id"]
    assert h.benefits(sid).json()["stale"] is False  # opened, and remembered
    h.sql("UPDATE citizen_cache SET payload = :junk WHERE kind = 'person'", junk=b"\0" * 64)
    h.link.down = True
    r = h.benefits(sid)
    assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")


def test_the_opened_memo_is_bounded():
    memo = OpenedMemo(max_entries=3)
    for n in range(5):
        memo.put(n, f"v{n}")
    assert [memo.get(n) for n in range(5)] == [None, None, "v2", "v3", "v4"]
    memo.get(2)  # used: now the newest
    memo.put(5, "v5")
    assert memo.get(3) is None and memo.get(2) == "v2"

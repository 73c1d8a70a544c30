"""Idempotency-Key, row by row of the table in edge-api.md."""

import json
import threading

import pytest
from sqlmodel import select

from common.problem import Problem
from edge_server.db import session_scope
from edge_server.idempotency import IdempotentRequest, fingerprint
from edge_server.models import IdempotencyRecord, ServiceSession
from edge_server.schemas import CitizenView, SessionView
from tests.edge_server.support import card_body, hall, headers, new_key


def session_count(h) -> int:
    return h.count("service_session")


@pytest.mark.parametrize("key", [None, "", "with space", "ä".encode(), "x" * 129, "semi;colon"])
def test_missing_or_malformed_key_is_400(h, key):
    hdrs = headers()
    if key is not None:
        hdrs["Idempotency-Key"] = key
    r = h.edge.post("/api/v1/sessions", json=card_body(h.citizen()), headers=hdrs)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency-key-required")
    r = h.edge.delete("/api/v1/sessions/ses_x", headers=hdrs)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency-key-required")
    assert session_count(h) == 0


@pytest.mark.parametrize(
    "key", ["a", "A-z_0.9:", "x" * 128, "3f2504e0-4f89-11d3-9a0c-0305e82c3301"])
def test_well_formed_keys_are_accepted(h, key):
    assert h.open(h.citizen(), key=key).status_code == 201


def test_replay_returns_the_identical_answer_and_creates_nothing(h):
    citizen, key = h.citizen(), new_key()
    first = h.open(citizen, key=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    h.clock.advance(3600)  # the replay must not be a fresh answer
    h.outage()
    again = h.open(citizen, key=key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert session_count(h) == 1


def test_same_key_on_another_device_is_a_different_action(h):
    citizen, key = h.citizen(), new_key()
    a = h.open(citizen, device="kiosk-01", key=key)
    b = h.open(citizen, device="kiosk-02", key=key)
    assert a.json()["session_id"] != b.json()["session_id"]
    assert "idempotent-replayed" not in b.headers


def test_reuse_with_a_different_request_is_422(h):
    key = new_key()
    assert h.open(h.citizen(0), key=key).status_code == 201
    r = h.open(h.citizen(1), key=key)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency-key-reused")
    sid = h.open(h.citizen(2)).json()["session_id"]
    r = h.end(sid, key=key)  # same key, other method and path
    assert (r.status_code, r.json()["code"]) == (422, "idempotency-key-reused")
    assert session_count(h) == 2


def test_final_errors_are_stored_and_replayed(h):
    lost, key = h.citizen(card_status="reported-lost"), new_key()
    first = h.open(lost, key=key)
    assert first.status_code == 403
    again = h.open(lost, key=key)
    assert again.status_code == 403 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/problem+json"


def test_5xx_is_not_stored_so_a_retry_is_processed(h):
    citizen, key = h.citizen(), new_key()
    h.outage()
    assert h.open(citizen, key=key).status_code == 503
    h.outage(False)
    r = h.open(citizen, key=key)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert session_count(h) == 1


def test_delete_replay(h):
    sid, key = h.open(h.citizen()).json()["session_id"], new_key()
    assert h.end(sid, key=key).status_code == 204
    again = h.end(sid, key=key)
    assert again.status_code == 204 and again.headers["idempotent-replayed"] == "true"


def test_key_expires_after_its_ttl(h):
    citizen, key = h.citizen(), new_key()
    first = h.open(citizen, key=key).json()
    h.clock.advance(86400)
    second = h.open(h.citizen(1), key=key)
    assert second.status_code == 201, "an expired key is a new first use"
    assert second.json()["session_id"] != first["session_id"]


def _blocking_request(h, key: str, started: threading.Event, release: threading.Event):
    ctx = h.edge.app.state.edge
    request = IdempotentRequest(ctx, "kiosk-01", key, fingerprint("POST", "/x", b"{}"), "/x")

    def handler(commit):
        started.set()
        assert release.wait(10)
        return None

    return request, handler


def test_second_request_while_the_first_is_in_flight_is_409(h):
    key = new_key()
    started, release = threading.Event(), threading.Event()
    first, handler = _blocking_request(h, key, started, release)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault(
        "r", first.run(handler, status_code=204)))
    worker.start()
    assert started.wait(10)
    ctx = h.edge.app.state.edge
    second = IdempotentRequest(ctx, "kiosk-01", key, fingerprint("POST", "/x", b"{}"), "/x")
    with pytest.raises(Problem) as caught:
        second.run(lambda commit: pytest.fail("must not run"), status_code=204)
    assert (caught.value.status, caught.value.code) == (409, "idempotency-key-in-flight")
    release.set()
    worker.join(10)
    assert result["r"].status_code == 204
    replay = second.run(lambda commit: pytest.fail("must not run"), status_code=204)
    assert replay.headers["idempotent-replayed"] == "true"


def test_concurrent_first_uses_run_the_handler_once(h):
    """Many threads, one key, all claiming at once: the primary key lets exactly one in."""
    ctx = h.edge.app.state.edge
    key = new_key()
    barrier = threading.Barrier(8)
    runs, outcomes = [], []
    lock = threading.Lock()

    def handler(commit):
        with lock:
            runs.append(1)
        return None

    def attempt():
        request = IdempotentRequest(ctx, "kiosk-01", key, fingerprint("DELETE", "/y", b""), "/y")
        barrier.wait(10)
        try:
            response = request.run(handler, status_code=204)
            outcome = "replayed" if "idempotent-replayed" in response.headers else "ran"
        except Problem as problem:
            outcome = problem.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(runs) == 1
    assert outcomes.count("ran") == 1
    assert set(outcomes) <= {"ran", "replayed", "idempotency-key-in-flight"}


def test_abandoned_claim_is_taken_over(h):
    """A claim left in flight by a killed process does not block the key forever."""
    ctx = h.edge.app.state.edge
    key = new_key()
    raw = json.dumps(card_body(h.citizen())).encode()
    dead = IdempotentRequest(ctx, "kiosk-01", key,
                             fingerprint("POST", "/api/v1/sessions", raw), "/api/v1/sessions")
    assert dead._claim() is None  # claimed; then its process dies

    def post():
        return h.edge.post("/api/v1/sessions", content=raw,
                           headers={**headers(key=key), "Content-Type": "application/json"})

    r = post()
    assert (r.status_code, r.json()["code"]) == (409, "idempotency-key-in-flight")
    assert r.headers["retry-after"] == "1"
    h.clock.advance(31)
    assert post().status_code == 201
    assert post().headers["idempotent-replayed"] == "true"


def test_a_restarted_sqlite_edge_releases_the_dead_processes_claims_at_once(tmp_path):
    """After a power cut, the kiosk's retry runs as soon as the edge is back on SQLite (one
    server owns the file), not ABANDONED_AFTER later; it runs once and is then replayed."""
    key = new_key()
    with hall(tmp_path) as first:
        raw = json.dumps(card_body(first.citizen())).encode()
        dead = IdempotentRequest(first.edge.app.state.edge, "kiosk-01", key,
                                 fingerprint("POST", "/api/v1/sessions", raw), "/api/v1/sessions")
        assert dead._claim() is None  # claimed; then the power goes
    with hall(tmp_path) as restarted:  # the same data directory: the same database file
        def post():
            return restarted.edge.post(
                "/api/v1/sessions", content=raw,
                headers={**headers(key=key), "Content-Type": "application/json"})

        assert post().status_code == 201  # no clock advance: released at start-up
        assert post().headers["idempotent-replayed"] == "true"
        assert restarted.count("service_session") == 1


def test_the_stored_answer_is_encrypted(h):
    citizen, key = h.citizen(), new_key()
    h.open(citizen, key=key)
    ctx = h.edge.app.state.edge
    with session_scope(ctx.engine) as db:
        record = db.get(IdempotencyRecord, ("kiosk-01", key))
        assert record.state == "done" and record.status_code == 201
        assert b"session_id" not in record.body
        assert len(db.exec(select(ServiceSession)).all()) == 1


def test_answer_and_session_commit_together(h):
    """The route's writes and its stored answer land in one transaction: when the answer
    cannot be stored (the claim was taken over meanwhile), the session is not written either."""
    ctx = h.edge.app.state.edge
    key = new_key()
    request = IdempotentRequest(ctx, "kiosk-01", key, "fp", "/p")

    def handler(commit):
        # Another process takes the claim over while this one works.
        with session_scope(ctx.engine) as db:
            record = db.get(IdempotencyRecord, ("kiosk-01", key))
            record.created_at = record.created_at.replace(microsecond=1)
            db.add(record)

        def work(db):
            db.add(ServiceSession(id="ses_t", device_id="kiosk-01", citizen_key="k", key_id="k",
                                  nonce=b"n", payload=b"p", created_at=ctx.now(),
                                  expires_at=ctx.now()))
            return SessionView(session_id="ses_t", expires_at="", as_of="", stale=False,
                               citizen=CitizenView(display_name="", gender="1", age=1,
                                                   card_status="normal"))

        return commit(work)

    with pytest.raises(Problem) as caught:
        request.run(handler, status_code=201)
    assert (caught.value.status, caught.value.code) == (409, "idempotency-key-in-flight")
    with session_scope(ctx.engine) as db:
        assert db.get(ServiceSession, "ses_t") is None
        assert db.get(IdempotencyRecord, ("kiosk-01", key)).state == "in-flight"

"""The benefits read answers from memory only while what it was built from still holds: the
session is live and both cache rows are the same and fresh. Each test first makes the memory
hot (three reads: build, remember, answer from memory) and checks that it was."""

import pytest

from edge_server.services import benefits as benefits_service
from tests.edge_server.support import new_key


@pytest.fixture
def hot(h):
    citizen = h.citizen(receiving_pension=True, card_status="normal")
    sid = h.open(citizen).json()["session_id"]
    bodies = [h.benefits(sid) for _ in range(3)]
    assert all(r.status_code == 200 for r in bodies)
    assert bodies[0].content == bodies[2].content
    ctx = h.edge.app.state.edge
    remembered = [k for k in ctx.opened._items if isinstance(k, tuple) and k[0] == "benefits"]
    assert len(remembered) == 1, "the third read came from memory"
    return citizen, sid


def test_an_ended_session_is_refused_at_once(h, hot):
    _, sid = hot
    assert h.end(sid).status_code == 204
    r = h.benefits(sid)
    assert (r.status_code, r.json()["code"]) == (404, "session-not-found")


def test_another_devices_read_of_the_session_is_refused(h, hot):
    _, sid = hot
    r = h.benefits(sid, device="kiosk-02")
    assert (r.status_code, r.json()["code"]) == (404, "session-not-found")


def test_past_the_ttl_the_platform_is_asked_again(h, hot):
    _, sid = hot
    calls = len(h.link.calls)
    h.clock.advance(h.settings.cache_ttl_s + 1)
    assert h.benefits(sid).status_code == 200
    assert len(h.link.calls) > calls, "an entry past its TTL is not answered from memory"


def test_past_the_ttl_with_central_down_the_answer_says_stale(h, hot):
    _, sid = hot
    h.clock.advance(h.settings.cache_ttl_s + 1)
    h.link.down = True
    r = h.benefits(sid)
    assert r.status_code == 200 and r.json()["stale"] is True


def test_the_view_is_audited_once_per_session_not_per_read(h, hot):
    _, sid = hot
    h.benefits(sid)
    rows = h.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'benefits.viewed'")
    assert rows[0][0] == 1
    # A new session of the same citizen is a new access.
    citizen, _ = hot
    other = h.open(citizen, key=new_key()).json()["session_id"]
    assert h.benefits(other).status_code == 200
    rows = h.sql("SELECT COUNT(*) FROM audit_log WHERE action = 'benefits.viewed'")
    assert rows[0][0] == 2


def test_the_event_loop_answers_from_memory_on_sqlite_only(h, hot):
    # On SQLite the remembered answer is found without a worker thread (the loop's own
    # read-only connection); PostgreSQL is a network round trip, which never runs on the loop.
    _, sid = hot
    ctx = h.edge.app.state.edge
    found = benefits_service.remembered_json(ctx, "kiosk-01", sid)
    if h.backend == "sqlite":
        assert found == h.benefits(sid).content
        assert benefits_service.remembered_json(ctx, "kiosk-02", sid) is None
        assert h.end(sid).status_code == 204
        assert benefits_service.remembered_json(ctx, "kiosk-01", sid) is None
    else:
        assert ctx.loop_reader is None and found is None


def test_a_bad_session_id_or_token_gets_the_same_answers_as_every_session_route(h):
    for bad in ("x" * 65, "a.b", "%E4%BD%A0"):
        r = h.benefits(bad)
        assert (r.status_code, r.json()["code"]) == (422, "validation-error"), bad
        assert r.json()["errors"][0]["loc"] == ["path", "session_id"]
    r = h.edge.get("/api/v1/sessions/ses_x/benefits", headers={"Authorization": "Basic abc"})
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")

import sqlite3

from edge_server import maintenance


def counts(h):
    with sqlite3.connect(h.data_dir / "edge.db") as db:
        return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("idempotency_record", "service_session", "citizen_cache"))


def test_purge_forgets_what_outlived_its_purpose(h):
    ctx = h.edge.app.state.edge
    ended = h.open(h.citizen(0)).json()["session_id"]
    h.end(ended)
    h.open(h.citizen(1))  # will expire
    assert counts(h) == (3, 2, 2)

    assert maintenance.purge(ctx) == maintenance.Purged(0, 0, 0)
    h.clock.advance(900 + 901)  # expired, and more than a session lifetime past it
    live = h.open(h.citizen(2)).json()["session_id"]
    purged = maintenance.purge(ctx)
    assert purged.sessions == 2
    assert h.get(live).status_code == 200
    h.clock.advance(86401)
    assert maintenance.purge(ctx) == maintenance.Purged(4, 1, 0)
    h.clock.advance(7 * 24 * 3600)
    assert maintenance.purge(ctx).cache_entries == 3
    assert counts(h) == (0, 0, 0)

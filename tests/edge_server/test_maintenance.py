from edge_server import maintenance


def counts(h):
    return tuple(h.count(t) for t in ("idempotency_record", "service_session", "citizen_cache"))


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
    # The identify buckets of kiosk-01 and the hall are full again: their rows go too.
    assert maintenance.purge(ctx) == maintenance.Purged(4, 1, 0, 2)
    h.clock.advance(7 * 24 * 3600)
    assert maintenance.purge(ctx).cache_entries == 3
    assert counts(h) == (0, 0, 0)


def test_a_rate_bucket_in_debt_is_kept_until_it_has_refilled(h):
    ctx = h.edge.app.state.edge
    bad = {**h.citizen(), "citizen_id": "11010519491231002Y"}
    for _ in range(4):
        assert h.open(bad).json()["code"] == "invalid-citizen-id"  # 20 tokens spent
    # Deepest debt: burst 20 + cost 5 at 0.2/s is 125 s for the device, (300+5)/5 for the hall.
    h.clock.advance(124)
    assert maintenance.purge(ctx).rate_buckets == 0
    assert h.open(h.citizen()).status_code == 201
    h.clock.advance(126)
    assert maintenance.purge(ctx).rate_buckets == 2

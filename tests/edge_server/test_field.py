"""Field mode on a field terminal's own edge: trip preparation (roster with templates, sealed,
with an expiry), sessions offline from the roster by card or by ID number, the queue status."""

from collections.abc import Iterator

import pytest

from edge_server.db import session_scope
from edge_server.outbox import enqueue, relay
from edge_server.services import field_trips
from tests.edge_server.support import CENTRAL_KEY, Hall, card_body, hall, headers, new_key


@pytest.fixture
def fh(tmp_path, edge_database_url: str) -> Iterator[Hall]:
    """A field terminal's edge (field mode) wired to the central simulator, both in-process."""
    with hall(tmp_path, database_url=edge_database_url, field_mode=True) as instance:
        yield instance


def busiest_village(h: Hall) -> dict:
    r = h.central.get("/sim/v1/villages", params={"limit": 1})
    assert r.status_code == 200, r.text
    return r.json()["items"][0]


def prepare(h: Hall, village: str, device: str = "field-01"):
    return h.edge.post("/api/v1/field/trips", json={"village": village}, headers=headers(device))


def roster(h: Hall, village: str) -> list[dict]:
    """The central roster, as the edge downloads it (to know who is on it)."""
    items, after = [], None
    while True:
        params = {"village": village, "limit": 200, **({"after": after} if after else {})}
        r = h.central.get("/central/v1/certification/due", params=params,
                          headers={"Authorization": f"Bearer {CENTRAL_KEY}"})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        after = r.json()["next"]
        if not after:
            return items


def with_cards(h: Hall) -> dict[str, dict]:
    """The simulator's pensioners with a normal card, by ID (their card fields)."""
    return {c["citizen_id"]: c for c in h.citizens(receiving_pension="true",
                                                   card_status="normal")}


def test_the_field_routes_do_not_exist_on_a_hall_edge(h):
    assert prepare(h, "110105001").status_code == 404
    assert h.edge.get("/api/v1/field/queue", headers=headers()).status_code == 404
    r = h.edge.post("/api/v1/field/sessions", json={"method": "id-number",
                                                    "citizen_id": "110105194901010012"},
                    headers=headers(key=new_key()))
    assert r.status_code == 404


def test_a_trip_stores_the_roster_sealed_and_sessions_open_offline(fh):
    village = busiest_village(fh)
    assert village["due"] > 0
    r = prepare(fh, village["village"])
    assert r.status_code == 201, r.text
    trip = r.json()
    assert trip["entries"] == village["due"] == fh.count("field_roster")
    due = roster(fh, village["village"])
    cards = with_cards(fh)
    first, second = [e for e in due if e["citizen_id"] in cards][:2]

    # Sealed: no ID number, name or roster field in the clear anywhere in the database.
    raw = fh.database_bytes()
    for entry in due[:20]:
        assert entry["citizen_id"].encode() not in raw
        assert entry["name"].encode() not in raw
    found = field_trips.roster_entry(fh.edge.app.state.edge, first["citizen_id"])
    assert found is not None and found.trip_id == trip["trip_id"]
    assert found.status == "due" and found.due_date is not None
    assert first["citizen_id"] not in repr(found)

    # The village has no link: sessions open from the roster, central never asked.
    fh.link.down = True
    calls = len(fh.link.calls)
    by_card = fh.edge.post("/api/v1/field/sessions",
                           json=card_body(cards[first["citizen_id"]]),
                           headers=headers("field-01", new_key()))
    assert by_card.status_code == 201, by_card.text
    assert by_card.json()["stale"] is True  # as of the roster's download
    key = new_key()
    by_id = fh.edge.post("/api/v1/field/sessions",
                         json={"method": "id-number", "citizen_id": second["citizen_id"]},
                         headers=headers("field-01", key))
    assert by_id.status_code == 201, by_id.text
    again = fh.edge.post("/api/v1/field/sessions",
                         json={"method": "id-number", "citizen_id": second["citizen_id"]},
                         headers=headers("field-01", key))
    assert again.json()["session_id"] == by_id.json()["session_id"]  # idempotent
    assert fh.get(by_id.json()["session_id"], "field-01").status_code == 200
    # The hall route too opens from the roster by card, offline.
    hall_route = fh.edge.post("/api/v1/sessions",
                              json=card_body(cards[second["citizen_id"]]),
                              headers=headers("field-01", new_key()))
    assert hall_route.status_code == 201, hall_route.text
    assert len(fh.link.calls) == calls

    # Someone not on the roster cannot be identified by ID number.
    stranger = fh.citizen(0, deceased="false")
    if stranger["citizen_id"] in {e["citizen_id"] for e in due}:
        stranger = fh.citizen(1, deceased="false")
    r = fh.edge.post("/api/v1/field/sessions",
                     json={"method": "id-number", "citizen_id": stranger["citizen_id"]},
                     headers=headers("field-01", new_key()))
    assert r.status_code == 404 and r.json()["code"] == "citizen-not-found"
    bad = fh.edge.post("/api/v1/field/sessions", json={"method": "id-number",
                                                       "citizen_id": "12345"},
                       headers=headers("field-01", new_key()))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid-citizen-id"
    neither = fh.edge.post("/api/v1/field/sessions", json={"method": "card"},
                           headers=headers("field-01", new_key()))
    assert neither.status_code == 422


def test_the_roster_expires_and_is_purged(fh):
    village = busiest_village(fh)["village"]
    assert prepare(fh, village).status_code == 201
    someone = roster(fh, village)[0]["citizen_id"]
    fh.link.down = True
    fh.clock.advance(fh.settings.field_roster_ttl_s + 1)
    r = fh.edge.post("/api/v1/field/sessions",
                     json={"method": "id-number", "citizen_id": someone},
                     headers=headers("field-01", new_key()))
    assert r.status_code == 404
    assert field_trips.roster_entry(fh.edge.app.state.edge, someone) is None
    status = fh.edge.get("/api/v1/field/queue", headers=headers("field-01"))
    assert status.status_code == 200 and status.json()["trip"] is None
    assert fh.count("field_roster") == 0 and fh.count("field_trip") == 0


def test_preparing_without_a_link_changes_nothing_and_again_replaces_the_trip(fh):
    village = busiest_village(fh)["village"]
    first = prepare(fh, village).json()
    fh.link.down = True
    r = prepare(fh, village)
    assert r.status_code == 503 and r.json()["code"] == "central-unavailable"
    assert fh.edge.get("/api/v1/field/trip", headers=headers()).json()["trip_id"] == (
        first["trip_id"])
    fh.link.down = False
    second = prepare(fh, village).json()
    assert second["trip_id"] != first["trip_id"]
    assert fh.count("field_trip") == 1 and fh.count("field_roster") == second["entries"]
    for bad in ("11010", "abcdefghi", "1" * 13):
        assert prepare(fh, bad).status_code == 422


def test_the_queue_counts_what_waits_and_when_records_last_synced(fh):
    ctx = fh.edge.app.state.edge
    status = fh.edge.get("/api/v1/field/queue", headers=headers("field-01")).json()
    assert (status["waiting"], status["last_sync_at"]) == (0, None)
    reporters = [fh.citizen(n, card_status="normal", deceased="false") for n in range(3)]
    fh.link.down = True
    with session_scope(ctx.engine) as db:
        for c in reporters:
            pin = fh.detail(int(c["index"]))["service_pin"]
            enqueue(ctx, db, device_id="field-01", idempotency_key=new_key(),
                    citizen_id=c["citizen_id"], kind="card-loss-report",
                    payload={"citizen_id": c["citizen_id"], "pin": pin})
    relay.step(ctx)  # central unreachable: nothing leaves
    status = fh.edge.get("/api/v1/field/queue", headers=headers("field-01")).json()
    assert status["waiting"] == 3 and status["last_sync_at"] is None
    assert status["central_reachable"] is False
    fh.link.down = False
    fh.clock.advance(60)
    while relay.step(ctx) == 0.0 and fh.edge.get(
            "/api/v1/field/queue", headers=headers("field-01")).json()["waiting"]:
        pass
    status = fh.edge.get("/api/v1/field/queue", headers=headers("field-01")).json()
    assert status["waiting"] == 0 and status["sent"] == 3
    assert status["last_sync_at"] == fh.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_migration_0005_adds_the_trip_tables_and_takes_them_away(tmp_path):
    from sqlalchemy import inspect

    from common.sqlite import make_engine
    from edge_server import migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'edge.db'}")
    try:
        migrate.upgrade(engine, "0005")
        assert {"field_trip", "field_roster"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(engine, "0004")
        assert not {"field_trip", "field_roster"} & set(inspect(engine).get_table_names())
        migrate.upgrade(engine)
        assert "field_roster" in set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

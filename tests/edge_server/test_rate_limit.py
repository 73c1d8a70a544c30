"""Identify rate limits (rate_limit.py) through the app: per device, per hall, refusals cost
more, 429 problem+json with Retry-After, never stored under the Idempotency-Key.
Through real processes (threads and a restart): test_processes.py."""

import datetime as dt

from common import citizen_id
from tests.edge_server.support import PROBLEM, card_body, hall, headers, new_key

LIMITS = {"identify_device_burst": 3, "identify_device_per_s": 1 / 60,
          "identify_hall_burst": 100, "identify_hall_per_s": 1.0, "identify_failure_cost": 5}


def unknown_citizen(n: int) -> dict:
    """A well-formed ID that the simulated population does not hold (born 1901)."""
    return {"citizen_id": citizen_id.make("110105", dt.date(1901, 1, 1), n), "name": "某",
            "card": {"card_number": "A00000000", "card_id_code": "00"}, "spec_version": "2.00"}


def assert_429(r, retry_after: int | None = None) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "too-many-requests"
    assert int(r.headers["retry-after"]) >= 1
    if retry_after is not None:
        assert int(r.headers["retry-after"]) == retry_after


def test_a_device_gets_its_burst_then_429_then_one_per_refill(tmp_path):
    with hall(tmp_path, **LIMITS) as h:
        citizen = h.citizen()
        assert [h.open(citizen).status_code for _ in range(3)] == [201] * 3
        assert_429(h.open(citizen), retry_after=60)
        assert h.open(citizen, device="kiosk-02").status_code == 201  # its own bucket
        h.clock.advance(59)
        assert_429(h.open(citizen), retry_after=1)
        h.clock.advance(1)
        assert h.open(citizen).status_code == 201
        assert_429(h.open(citizen))


def test_refusals_cost_more_than_successes(tmp_path):
    with hall(tmp_path, **{**LIMITS, "identify_device_burst": 10}) as h:
        assert h.open(unknown_citizen(1)).json()["code"] == "citizen-not-found"
        assert h.open(unknown_citizen(2)).json()["code"] == "citizen-not-found"
        # Two refusals spent all ten tokens; ten successes would have been allowed.
        assert_429(h.open(h.citizen()))
        bad = {**h.citizen(), "citizen_id": "11010519491231002" + "Y"}
        assert h.open(bad, device="kiosk-02").json()["code"] == "invalid-citizen-id"
        assert h.open(bad, device="kiosk-02").json()["code"] == "invalid-citizen-id"
        assert_429(h.open(bad, device="kiosk-02"))
        assert h.open(h.citizen(), device="kiosk-03").status_code == 201


def test_the_hall_has_its_own_bucket(tmp_path):
    with hall(tmp_path, **{**LIMITS, "identify_hall_burst": 4,
                           "identify_hall_per_s": 1 / 30}) as h:
        citizen = h.citizen()
        for n in range(4):
            assert h.open(citizen, device=f"kiosk-{n}").status_code == 201
        assert_429(h.open(citizen, device="kiosk-9"), retry_after=30)


def test_a_429_is_not_stored_so_the_same_key_works_later(tmp_path):
    with hall(tmp_path, **LIMITS) as h:
        citizen = h.citizen()
        for _ in range(3):
            h.open(citizen)
        key = new_key()
        assert_429(h.open(citizen, key=key))
        h.clock.advance(60)
        first = h.open(citizen, key=key)
        assert first.status_code == 201 and "idempotent-replayed" not in first.headers
        # A replay is not an attempt: it costs nothing, even with the bucket empty.
        replay = h.open(citizen, key=key)
        assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"


def test_a_clock_set_back_refills_nothing(tmp_path):
    with hall(tmp_path, **LIMITS) as h:
        citizen = h.citizen()
        for _ in range(3):
            h.open(citizen)
        h.clock.advance(-3600)
        assert_429(h.open(citizen))


def test_other_calls_are_not_limited(tmp_path):
    with hall(tmp_path, **LIMITS) as h:
        sid = h.open(h.citizen()).json()["session_id"]
        for _ in range(2):
            h.open(h.citizen())
        assert_429(h.open(h.citizen()))
        assert all(h.get(sid).status_code == 200 for _ in range(10))
        assert h.end(sid).status_code == 204
        body = card_body(h.citizen())
        r = h.edge.post("/api/v1/sessions", json=body, headers=headers(key=new_key()))
        assert_429(r)


def test_pin_attempts_have_their_own_buckets_and_a_429_is_not_stored(tmp_path):
    with hall(tmp_path, **LIMITS, outbox_sync_wait_s=0, pin_citizen_burst=1,
              pin_citizen_per_s=1 / 600) as h:
        citizen = h.citizen()
        report = {"citizen_id": citizen["citizen_id"], "pin": "000000"}
        first = h.edge.post("/api/v1/card-loss/reports", json=report,
                            headers=headers(key=new_key()))
        assert first.status_code == 201, first.text
        key = new_key()
        r = h.edge.post("/api/v1/card-loss/reports", json=report, headers=headers(key=key))
        assert_429(r, retry_after=600)
        assert "PIN" in r.json()["title"]
        # Identify is another bucket: unaffected.
        assert h.open(h.citizen(1)).status_code == 201
        h.clock.advance(600)
        again = h.edge.post("/api/v1/card-loss/reports", json=report, headers=headers(key=key))
        assert again.status_code == 201 and "idempotent-replayed" not in again.headers

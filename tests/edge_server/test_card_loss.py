"""The lost-card policy (edge-api.md): loss report by ID number + PIN through the outbox, a local
block while it is on its way (also offline), lifted by a refusal; reversal with card + PIN; the
card status fresh on every identify; the blacklist feed enforced offline; PIN rate limits. On
SQLite and PostgreSQL, against the central simulator."""

from collections.abc import Iterator

import pytest

from edge_server.outbox import relay
from edge_server.services import blacklist
from tests.edge_server.support import PROBLEM, Hall, card_body, hall, headers, new_key


@pytest.fixture
def hq(tmp_path, edge_database_url) -> Iterator[Hall]:
    with hall(tmp_path, database_url=edge_database_url, outbox_sync_wait_s=0,
              pin_citizen_burst=50, pin_device_burst=50) as instance:
        yield instance


def ctx_of(h: Hall):
    return h.edge.app.state.edge


def drain(h: Hall) -> None:
    for _ in range(50):
        if relay.step(ctx_of(h)) > 0:
            return
    raise AssertionError("the outbox did not drain")


def normal_citizen(h: Hall, n: int = 0) -> tuple[dict, str]:
    """A citizen with a normal card, and their service PIN (the simulator tells testers)."""
    citizen = h.citizen(n, card_status="normal")
    return citizen, h.detail(citizen["index"])["service_pin"]


def wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 1_000_000:06d}"


def report(h: Hall, citizen_id: str, pin: str, device: str = "kiosk-01",
           key: str | None = None):
    return h.edge.post("/api/v1/card-loss/reports", json={"citizen_id": citizen_id, "pin": pin},
                       headers=headers(device, key or new_key()))


def reverse(h: Hall, citizen: dict, pin: str, device: str = "kiosk-01"):
    return h.edge.post("/api/v1/card-loss/reversals",
                       json={"card": card_body(citizen)["card"], "pin": pin},
                       headers=headers(device, new_key()))


def receipt(h: Hall, receipt_no: str) -> dict:
    r = h.edge.get(f"/api/v1/submissions/{receipt_no}", headers=headers("kiosk-07"))
    assert r.status_code == 200, r.text
    return r.json()


def assert_refused(r, status: str = "reported-lost") -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == PROBLEM
    assert (r.json()["code"], r.json()["card_status"]) == ("card-not-valid", status)


def test_a_loss_report_blocks_at_once_then_central_records_it(hq):
    citizen, pin = normal_citizen(hq)
    assert hq.open(citizen).status_code == 201
    r = report(hq, citizen["citizen_id"], pin)
    assert r.status_code == 201, r.text
    taken = r.json()
    assert (taken["kind"], taken["state"]) == ("card-loss-report", "queued")
    assert pin not in r.text and citizen["citizen_id"] not in r.text
    # Queued, not yet at central (which still says normal): the edge refuses the card anyway.
    assert_refused(hq.open(citizen))
    drain(hq)
    assert receipt(hq, taken["receipt_no"])["state"] == "sent"
    # Offline, from the cache (which says normal: it predates the report): still refused.
    hq.link.down = True
    assert_refused(hq.open(citizen))
    hq.link.down = False
    assert_refused(hq.open(citizen))  # central recorded the report
    card = hq.detail(citizen["index"])["cards"][-1]
    assert card["status"] == "reported-lost"


def test_a_queued_report_blocks_offline_and_a_wrong_pin_lifts_the_block(hq):
    citizen, pin = normal_citizen(hq, 1)
    assert hq.open(citizen).status_code == 201  # cached: normal
    hq.link.down = True
    r = report(hq, citizen["citizen_id"], wrong(pin))
    assert r.status_code == 201 and r.json()["state"] == "queued"
    assert_refused(hq.open(citizen))
    drain(hq)  # central down: still queued
    assert_refused(hq.open(citizen))
    hq.link.down = False
    hq.clock.advance(600)
    drain(hq)
    refused = receipt(hq, r.json()["receipt_no"])
    assert (refused["state"], refused["refusal_code"]) == ("refused", "pin-wrong")
    assert refused["refusal_message"]
    assert hq.open(citizen).status_code == 201, "a refused report blocks nobody's card"
    assert hq.count("card_block") == 0


def test_a_reversal_with_card_and_pin_opens_the_card_again(hq):
    citizen, pin = normal_citizen(hq, 2)
    hq.open(citizen)
    taken = report(hq, citizen["citizen_id"], pin).json()
    drain(hq)
    assert receipt(hq, taken["receipt_no"])["state"] == "sent"
    assert_refused(hq.open(citizen))
    bad = reverse(hq, citizen, wrong(pin))
    assert bad.status_code == 201
    drain(hq)
    assert receipt(hq, bad.json()["receipt_no"])["refusal_code"] == "pin-wrong"
    assert_refused(hq.open(citizen))
    good = reverse(hq, citizen, pin)
    assert good.status_code == 201 and good.json()["kind"] == "card-loss-reversal"
    drain(hq)
    assert receipt(hq, good.json()["receipt_no"])["state"] == "sent"
    assert hq.open(citizen).status_code == 201
    sid = hq.open(citizen).json()["session_id"]
    card = hq.edge.get(f"/api/v1/sessions/{sid}/card", headers=headers()).json()
    number = citizen["card"]["card_number"]
    assert card["status"] == "normal" and card["stale"] is False
    assert card["card_number_masked"] != number and card["card_number_masked"][-2:] == number[-2:]


def test_lost_at_central_then_pulled_then_central_down_is_refused(hq):
    citizen, _ = normal_citizen(hq, 3)
    assert hq.open(citizen).status_code == 201  # the cache now says normal for a week
    r = hq.central.post("/sim/v1/cards/status",
                        json={"citizen_id": citizen["citizen_id"], "status": "reported-lost"})
    assert r.status_code == 200, r.text
    # Central reachable: identify asks it fresh, whatever the cache's age.
    assert_refused(hq.open(citizen))
    assert blacklist.sync_step(ctx_of(hq)) is None
    hq.link.down = True
    assert_refused(hq.open(citizen))


def test_the_feed_blocks_offline_even_when_the_cache_is_older(hq):
    citizen, _ = normal_citizen(hq, 4)
    hq.open(citizen)
    hq.link.down = True  # the edge never hears of the change but through the feed
    hq.central.post("/sim/v1/cards/status",
                    json={"citizen_id": citizen["citizen_id"], "status": "blacklisted"})
    hq.link.down = False
    blacklist.sync_step(ctx_of(hq))
    hq.link.down = True
    assert_refused(hq.open(citizen), "blacklisted")
    # Back to normal at central: a fresh answer newer than the feed's change wins.
    hq.central.post("/sim/v1/cards/status",
                    json={"citizen_id": citizen["citizen_id"], "status": "normal"})
    hq.link.down = False
    hq.clock.advance(60)
    assert hq.open(citizen).status_code == 201


@pytest.mark.parametrize("status", ["reported-lost", "cancelled", "blacklisted"])
def test_a_card_not_normal_at_central_never_opens_a_session(hq, status):
    citizen = hq.citizen(card_status=status)
    assert_refused(hq.open(citizen), status)


def test_a_retry_with_the_same_key_is_the_same_report(hq):
    citizen, pin = normal_citizen(hq, 5)
    key = new_key()
    first = report(hq, citizen["citizen_id"], pin, key=key)
    again = report(hq, citizen["citizen_id"], pin, key=key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["receipt_no"] == first.json()["receipt_no"]
    assert hq.count("outbox_item") == 1
    other = report(hq, citizen["citizen_id"], wrong(pin), key=key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency-key-reused")


@pytest.mark.parametrize("body", [
    {"citizen_id": "11010519491231002X"},
    {"citizen_id": "11010519491231002X", "pin": "12345"},
    {"citizen_id": "11010519491231002X", "pin": "1234567"},
    {"citizen_id": "11010519491231002X", "pin": "12345a"},
    {"citizen_id": "11010519491231002X", "pin": 123456},
    {"citizen_id": "11010519491231002X", "pin": "１２３４５６"},
    {"pin": "123456"},
])
def test_malformed_reports_are_422_without_values(hq, body):
    r = hq.edge.post("/api/v1/card-loss/reports", json=body, headers=headers(key=new_key()))
    assert (r.status_code, r.json()["code"]) == (422, "validation-error")
    assert "123456" not in r.text and "11010519491231002X" not in r.text


def test_an_invalid_citizen_id_is_422_before_anything_is_queued(hq):
    good = hq.citizen()["citizen_id"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = report(hq, bad, "123456")
    assert (r.status_code, r.json()["code"]) == (422, "invalid-citizen-id")
    assert bad not in r.text
    assert hq.count("outbox_item") == 0 and hq.count("card_block") == 0


def test_pin_attempts_are_limited_per_citizen_and_per_device(tmp_path):
    with hall(tmp_path, outbox_sync_wait_s=0, pin_citizen_burst=2, pin_device_burst=3,
              pin_citizen_per_s=1 / 600, pin_device_per_s=1 / 60) as h:
        a, _ = normal_citizen(h, 0)
        b, _ = normal_citizen(h, 1)
        c, _ = normal_citizen(h, 2)
        assert [report(h, a["citizen_id"], "000000").status_code for _ in range(2)] == [201] * 2
        limited = report(h, a["citizen_id"], "000000", device="kiosk-02")
        assert (limited.status_code, limited.json()["code"]) == (429, "too-many-requests")
        assert int(limited.headers["retry-after"]) == 600, "the citizen's bucket, any device"
        assert report(h, b["citizen_id"], "000000").status_code == 201
        limited = report(h, c["citizen_id"], "000000")
        assert limited.status_code == 429, "the device's bucket"
        assert report(h, c["citizen_id"], "000000", device="kiosk-03").status_code == 201
        h.clock.advance(60)
        assert report(h, c["citizen_id"], "000000").status_code == 201

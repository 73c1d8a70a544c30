"""A submission's state by its receipt number (GET /api/v1/submissions/{receipt_no}): from any
device of the hall, without personal data; unknown and malformed numbers refused as data."""

import pytest

from edge_server.outbox import relay
from tests.edge_server.support import PROBLEM, hall, headers, new_key


@pytest.fixture
def h(tmp_path, edge_database_url):
    with hall(tmp_path, database_url=edge_database_url, outbox_sync_wait_s=0) as instance:
        yield instance


def test_any_device_of_the_hall_sees_a_receipt_without_personal_data(h):
    citizen = h.citizen(card_status="normal")
    pin = h.detail(citizen["index"])["service_pin"]
    r = h.edge.post("/api/v1/card-loss/reports",
                    json={"citizen_id": citizen["citizen_id"], "pin": pin},
                    headers=headers("kiosk-01", new_key()))
    assert r.status_code == 201
    number = r.json()["receipt_no"]
    seen = h.edge.get(f"/api/v1/submissions/{number}", headers=headers("kiosk-09"))
    assert seen.status_code == 200 and seen.json() == r.json()
    relay.step(h.edge.app.state.edge)
    sent = h.edge.get(f"/api/v1/submissions/{number}", headers=headers("kiosk-09")).json()
    assert sent["state"] == "sent" and sent["sent_at"] is not None
    assert sent["submitted_at"] == r.json()["submitted_at"]
    for secret in (citizen["citizen_id"], citizen["name"], pin, citizen["card"]["card_number"]):
        assert secret not in seen.text and secret not in str(sent)


def test_unknown_receipts_are_404_and_malformed_ones_422(h):
    r = h.edge.get("/api/v1/submissions/R20261122ABCDEFGHJK", headers=headers())
    assert (r.status_code, r.json()["code"]) == (404, "submission-not-found")
    assert r.headers["content-type"] == PROBLEM
    for bad in ("R2026112", "X20261122ABCDEFGHJK", "R20261122ABCDEFGHIL", "R20261122abcdefghjk",
                "R20261122ABCDEFGHJK0", "%00"):
        r = h.edge.get(f"/api/v1/submissions/{bad}", headers=headers())
        assert (r.status_code, r.json()["code"]) == (422, "validation-error"), bad


def test_a_receipt_needs_a_device_credential(h):
    r = h.edge.get("/api/v1/submissions/R20261122ABCDEFGHJK")
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


def test_with_central_known_down_the_receipt_says_queued_without_waiting(tmp_path, monkeypatch):
    from edge_server import outbox

    waited: list[str] = []
    monkeypatch.setattr(outbox, "await_delivery",
                        lambda ctx, receipt_no, timeout_s: waited.append(receipt_no))
    with hall(tmp_path, outbox_sync_wait_s=30) as h:
        citizen = h.citizen(card_status="normal")
        pin = h.detail(citizen["index"])["service_pin"]
        h.link.down = True
        h.edge.app.state.edge.central.probe()  # the probe finds it down
        r = h.edge.post("/api/v1/card-loss/reports",
                        json={"citizen_id": citizen["citizen_id"], "pin": pin},
                        headers=headers("kiosk-01", new_key()))
        assert r.status_code == 201 and r.json()["state"] == "queued"
        assert waited == [], "no wait for a platform known to be down"

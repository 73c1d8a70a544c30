"""Subsidy applications through the edge (edge-api.md): receipt sent or queued, the same receipt
on a retry, one application per claim across kiosks (also at the same moment), the status list
with receipts and queued submissions; on SQLite and PostgreSQL."""

import threading
from collections.abc import Iterator

import pytest

from edge_server.outbox import relay
from tests.edge_server.support import PROBLEM, Hall, hall, headers, new_key
from tests.harness.concurrent import run_at_once

RECEIPT = r"^R[0-9]{8}[0-9A-HJKMNP-TV-Z]{10}$"


@pytest.fixture
def hq(tmp_path, edge_database_url) -> Iterator[Hall]:
    """A hall whose applications answer at once ("queued"): the test drives the relay."""
    with hall(tmp_path, database_url=edge_database_url, outbox_sync_wait_s=0) as instance:
        yield instance


def drain(h: Hall) -> None:
    """Run the relay until nothing is due (what the background loop does)."""
    ctx = h.edge.app.state.edge
    for _ in range(50):
        if relay.step(ctx) > 0:
            return
    raise AssertionError("the outbox did not drain")


def session_of(h: Hall, citizen: dict, device: str = "kiosk-01") -> str:
    r = h.open(citizen, device=device)
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


def form_for(subsidy: dict) -> dict:
    form = {}
    for field in subsidy["form_fields"]:
        form[field["name"]] = "13800000000" if field["kind"] == "phone" else "1234"
    return form


def body_for(subsidy: dict) -> dict:
    return {"subsidy": subsidy["code"], "period": subsidy["period"], "form": form_for(subsidy)}


def apply(h: Hall, sid: str, body: dict, device: str = "kiosk-01", key: str | None = None):
    return h.edge.post(f"/api/v1/sessions/{sid}/applications", json=body,
                       headers=headers(device, key or new_key()))


def applicant(h: Hall) -> tuple[str, dict, dict]:
    """A session of a citizen with an eligible subsidy, that subsidy, and the citizen."""
    for citizen in h.citizens(card_status="normal"):
        sid = session_of(h, citizen)
        r = h.edge.get(f"/api/v1/sessions/{sid}/subsidies", headers=headers())
        assert r.status_code == 200, r.text
        items = [s for s in r.json()["items"] if s["eligible"]]
        if items:
            return sid, items[0], citizen
    raise AssertionError("nobody is eligible for anything")


def test_an_application_is_queued_then_sent_and_a_retry_gets_the_same_receipt(hq):
    sid, subsidy, _citizen = applicant(hq)
    key = new_key()
    first = apply(hq, sid, body_for(subsidy), key=key)
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["state"] == "queued" and receipt["sent_at"] is None
    assert receipt["kind"] == "subsidy-application"
    assert receipt["qr"] == "hrss:receipt:" + receipt["receipt_no"]
    assert receipt["application_no"] is None

    drain(hq)
    again = apply(hq, sid, body_for(subsidy), key=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    replayed = again.json()
    assert replayed["receipt_no"] == receipt["receipt_no"]
    assert replayed["state"] == "sent", "a replay shows the receipt's current state"
    assert replayed["application_no"].startswith("SQ")
    recorded = hq.central.get("/sim/v1/submissions",
                              params={"kind": "subsidy-application"}).json()
    keys = [item["submission_key"] for item in recorded["items"]]
    assert len(keys) == len(set(keys)) == 1, "central recorded it once"

    status = hq.edge.get(f"/api/v1/sessions/{sid}/applications", headers=headers()).json()
    mine = [a for a in status["items"] if a["application_no"] == replayed["application_no"]]
    assert mine and mine[0]["receipt_no"] == receipt["receipt_no"]
    assert mine[0]["status"] == "submitted" and mine[0]["history"][0]["status"] == "submitted"
    assert status["queued"] == []


def test_the_same_key_with_another_body_is_422(hq):
    sid, subsidy, _citizen = applicant(hq)
    key = new_key()
    assert apply(hq, sid, body_for(subsidy), key=key).status_code == 201
    other = {**body_for(subsidy), "period": "2031"}
    r = apply(hq, sid, other, key=key)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency-key-reused")


def test_a_second_application_for_the_same_claim_is_409_from_any_kiosk(hq):
    sid, subsidy, citizen = applicant(hq)
    first = apply(hq, sid, body_for(subsidy))
    assert first.status_code == 201
    for device in ("kiosk-01", "kiosk-02"):
        other = session_of(hq, citizen, device=device)
        r = apply(hq, other, body_for(subsidy), device=device)
        assert (r.status_code, r.json()["code"]) == (409, "duplicate-application"), device
        assert r.json()["receipt_no"] == first.json()["receipt_no"]
    assert hq.count("outbox_item") == 1


def test_two_kiosks_at_the_same_moment_give_one_application(hq):
    sid, subsidy, citizen = applicant(hq)
    sessions = {"kiosk-01": sid,
                "kiosk-02": session_of(hq, citizen, device="kiosk-02")}
    answers: dict[str, object] = {}
    lock = threading.Lock()

    def submit(device: str) -> None:
        r = apply(hq, sessions[device], body_for(subsidy), device=device)
        with lock:
            answers[device] = r

    assert run_at_once(submit, list(sessions)) == []
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [201, 409], [r.text for r in answers.values()]
    winner = next(r for r in answers.values() if r.status_code == 201).json()
    loser = next(r for r in answers.values() if r.status_code == 409)
    assert loser.headers["content-type"] == PROBLEM
    assert loser.json()["code"] == "duplicate-application"
    assert loser.json()["receipt_no"] == winner["receipt_no"]
    assert hq.count("outbox_item") == 1


def test_while_central_is_down_the_receipt_says_queued_and_the_list_shows_it(hq):
    sid, subsidy, _citizen = applicant(hq)
    hq.edge.get(f"/api/v1/sessions/{sid}/applications", headers=headers())  # cached
    hq.link.down = True
    r = apply(hq, sid, body_for(subsidy))
    assert r.status_code == 201 and r.json()["state"] == "queued"
    drain(hq)  # central down: nothing goes
    status = hq.edge.get(f"/api/v1/sessions/{sid}/applications", headers=headers())
    assert status.status_code == 200, status.text
    assert status.json()["stale"] is True
    assert [q["receipt_no"] for q in status.json()["queued"]] == [r.json()["receipt_no"]]
    hq.link.down = False
    hq.clock.advance(600)  # past the relay's backoff
    drain(hq)
    receipt = hq.edge.get(f"/api/v1/submissions/{r.json()['receipt_no']}", headers=headers())
    assert receipt.json()["state"] == "sent"
    status = hq.edge.get(f"/api/v1/sessions/{sid}/applications", headers=headers()).json()
    assert status["queued"] == [] and status["stale"] is False


def test_a_refused_application_shows_its_findings_and_frees_the_claim(hq):
    sid, subsidy, _citizen = applicant(hq)
    ineligible = {"subsidy": "no-such-subsidy", "period": subsidy["period"], "form": {}}
    r = apply(hq, sid, ineligible)
    assert r.status_code == 201
    drain(hq)
    receipt = hq.edge.get(f"/api/v1/submissions/{r.json()['receipt_no']}",
                          headers=headers()).json()
    assert receipt["state"] == "refused"
    assert receipt["refusal_code"] == "risk-refused"
    assert {f["code"] for f in receipt["findings"]} >= {"unknown-subsidy"}
    # The claim was released: a corrected application may claim it again.
    assert apply(hq, sid, ineligible).status_code == 201


def test_applications_need_a_live_session_of_this_device(hq):
    sid, subsidy, _citizen = applicant(hq)
    for r in (apply(hq, sid, body_for(subsidy), device="kiosk-02"),
              hq.edge.get(f"/api/v1/sessions/{sid}/applications", headers=headers("kiosk-02")),
              hq.edge.get(f"/api/v1/sessions/{sid}/card", headers=headers("kiosk-02"))):
        assert (r.status_code, r.json()["code"]) == (404, "session-not-found")
    assert hq.count("outbox_item") == 0


@pytest.mark.parametrize("body", [
    {},
    {"subsidy": "skill-upgrade"},
    {"subsidy": "Skill Upgrade", "period": "2026"},
    {"subsidy": "x" * 41, "period": "2026"},
    {"subsidy": "skill-upgrade", "period": "26"},
    {"subsidy": "skill-upgrade", "period": "2026-13"},
    {"subsidy": "skill-upgrade", "period": "2026", "form": {"a": "1", "b": "2", "c": "3",
                                                           "d": "4", "e": "5"}},
    {"subsidy": "skill-upgrade", "period": "2026", "form": {"phone": "1" * 33}},
    {"subsidy": "skill-upgrade", "period": "2026", "form": {"phone": "138-0000"}},
    {"subsidy": "skill-upgrade", "period": "2026", "form": {"Phone Number": "1"}},
    {"subsidy": "skill-upgrade", "period": "2026", "form": ["13800000000"]},
    {"subsidy": 7, "period": 2026},
])
def test_malformed_applications_are_422_without_values(hq, body):
    sid, _, _ = applicant(hq)
    r = apply(hq, sid, body)
    assert r.status_code == 422 and r.json()["code"] == "validation-error"
    assert r.headers["content-type"] == PROBLEM
    assert "13800000000" not in r.text and "138-0000" not in r.text
    assert hq.count("outbox_item") == 0


def test_outbox_full_is_503_with_retry_after_and_not_stored(tmp_path):
    with hall(tmp_path, outbox_sync_wait_s=0, outbox_max_pending=1) as h:
        sid, subsidy, _citizen = applicant(h)
        assert apply(h, sid, {**body_for(subsidy), "period": "2031"}).status_code == 201
        key = new_key()
        r = apply(h, sid, body_for(subsidy), key=key)
        assert (r.status_code, r.json()["code"]) == (503, "outbox-full")
        assert int(r.headers["retry-after"]) >= 1
        drain(h)
        assert apply(h, sid, body_for(subsidy), key=key).status_code == 201, "not stored"

"""Pension certifications made while the central platform is down reach it exactly once, through
real processes: `kioskctl central-sim` (killed with -9, restarted on its data directory) and
`kioskctl edge` (killed with -9 with the certifications still queued), the edge judging the
evidence with the real face engine. Every record central holds carries a valid signature of
the terminal's provisioned key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from common import signing
from provisioning import device_keys
from tests.edge_server.certification.support import persona_evidence
from tests.edge_server.support import card_body
from tests.harness.hall import Hall, hall
from tests.harness.submitting import new_key
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

DEVICES = ("kiosk-01", "kiosk-02")
CERTIFICATIONS = 6
FAST_RELAY = {
    "EDGE_OUTBOX_BACKOFF_INITIAL_S": "0.05", "EDGE_OUTBOX_BACKOFF_MAX_S": "0.2",
    "EDGE_OUTBOX_LEASE_S": "8", "EDGE_OUTBOX_POLL_INTERVAL_S": "0.2",
    "EDGE_OUTBOX_SYNC_WAIT_S": "0.5",
}


def _central(h: Hall) -> httpx.Client:
    return httpx.Client(base_url=h.central.url, timeout=30,
                        headers={"Authorization": f"Bearer {h.ledger.api_key}"})


def due_pensioners(h: Hall, count: int) -> list[dict[str, Any]]:
    """Pensioners with a normal card, the enrolment face bound and due today."""
    with _central(h) as central:
        found: list[dict[str, Any]] = []
        for citizen in h.ledger.citizens(receiving_pension="true", card_status="normal",
                                         deceased="false"):
            found.append(citizen)
            if len(found) == count:
                break
        r = central.post("/sim/v1/faces", json={
            "identity": "a", "citizen_ids": [c["citizen_id"] for c in found], "make_due": True})
        assert r.json()["bound"] == count, r.text
    return found


def provision_keys(h: Hall, tmp_path) -> dict[str, Any]:
    """Each terminal's signing key beside its device file, registered with central."""
    keys = {}
    for device in DEVICES:
        device_file = tmp_path / device / "device.toml"
        device_file.parent.mkdir(parents=True)
        public = device_keys.ensure_key(device_file)
        device_keys.register_key(h.central.url, device, public)
        keys[device] = (signing.load_device_key(device_keys.key_path(device_file)), public)
    return keys


def signed(key: Any, device: str, citizen_id: str, evidence: dict[str, Any]) -> dict[str, Any]:
    record = {"citizen_id": citizen_id,
              "certified_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
              "method": "hall", "device_id": device, "location": "朝阳区社保大厅",
              "staff_id": None, "evidence_sha256": signing.evidence_sha256(evidence),
              "result": "passed", "liveness_version": "hrss-liveness-1"}
    record["signature"] = signing.sign(key, record)
    return record


@pytest.mark.timeout(300)
def test_certifications_recorded_while_central_is_down_drain_exactly_once(tmp_path):
    evidence = persona_evidence("live")
    with hall(tmp_path, population=3000, edge_env=FAST_RELAY) as h:
        keys = provision_keys(h, tmp_path)
        citizens = due_pensioners(h, CERTIFICATIONS)
        jobs = []
        for n, citizen in enumerate(citizens):
            kiosk = h.kiosk(DEVICES[n % len(DEVICES)])
            opened = kiosk.open_session(card_body(citizen))
            assert opened.status_code == 201, opened.text
            sid = opened.json()["session_id"]
            seen = kiosk.get(f"/sessions/{sid}/certification").json()  # cached meanwhile
            assert seen["status"] == "due" and len(seen["template"]) == 128
            record = signed(keys[kiosk.device_id][0], kiosk.device_id, seen["citizen_id"],
                            evidence)
            jobs.append((kiosk, sid, record, new_key()))

        h.kill_central(restart=False)  # kill -9: the platform is gone
        receipts = []
        for kiosk, sid, record, key in jobs:
            r = kiosk.request("POST", f"/sessions/{sid}/certifications", key=key,
                              json={"evidence": evidence, "record": record})
            assert r.status_code == 201, r.text
            assert r.json()["state"] == "queued"
            receipts.append(r.json()["receipt_no"])
        # A kiosk that lost its answer asks again: the same receipt, nothing doubled.
        kiosk, sid, record, key = jobs[0]
        again = kiosk.request("POST", f"/sessions/{sid}/certifications", key=key,
                              json={"evidence": evidence, "record": record})
        assert again.status_code == 201 and again.json()["receipt_no"] == receipts[0]
        assert h.outbox_depth() == CERTIFICATIONS

        h.kill_edge()  # kill -9 with everything still queued; the same database restarts
        h.central_proc = h.sup.restart(h.central_proc)
        h.wait_drained(timeout=60)

        recorded = h.ledger.submissions(kind="pension-certification")
        assert len(recorded) == CERTIFICATIONS
        assert all(item["outcome"] == "recorded" for item in recorded)
        assert len({item["citizen_index"] for item in recorded}) == CERTIFICATIONS
        assert h.ledger.ingest()["recorded"] == CERTIFICATIONS
        with _central(h) as central:
            rows = central.get("/sim/v1/certifications", params={"limit": 100}).json()
            assert rows["total"] == CERTIFICATIONS
            records = {job[2]["signature"]: job[2] for job in jobs}
            for row in rows["items"]:
                sent = records.pop(row["signature"])
                assert row["signed"] == sent  # central keeps the record as it was signed
                public = keys[row["device_id"]][1]
                assert signing.verify(public, row["signed"], row["signature"])
                assert row["evidence_sha256"] == signing.evidence_sha256(evidence)
            assert records == {}
            for citizen in citizens:
                answer = central.post("/central/v1/certification/query",
                                      json={"citizen_id": citizen["citizen_id"]}).json()
                assert answer["status"] == "done", answer

        # Every kiosk's replay now says "sent", with central's certification number.
        for (kiosk, sid, record, key), receipt_no in zip(jobs, receipts, strict=True):
            def sent(kiosk=kiosk, sid=sid, record=record, key=key):
                r = kiosk.request("POST", f"/sessions/{sid}/certifications", key=key,
                                  json={"evidence": evidence, "record": record})
                return r.json() if r.json().get("state") == "sent" else None

            answer = wait_for(sent, "the receipt to say sent", timeout=20)
            assert answer["receipt_no"] == receipt_no
            assert answer["certification_no"].startswith("RZ")
        assert len(h.ledger.submissions(kind="pension-certification")) == CERTIFICATIONS

"""A 30-minute central outage through real processes: submissions queue with receipts that say
"queued", then drain in order, per terminal and per citizen, when central is back. And what a
hostile or broken kiosk sends the new routes: 4xx problem+json, never a 5xx.

Time is shortened, not faked: every relay interval of the edge is divided by SCALE, so that an
outage of 30 minutes / SCALE puts the relay through as many retries and backoff caps as the
30 minutes would in a hall.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.edge_server.support import PROBLEM, card_body
from tests.harness.hall import Hall, applicants, application_job, hall
from tests.harness.submitting import Job, label_of, new_key

pytestmark = pytest.mark.e2e

SCALE = 600
OUTAGE_S = 30 * 60 / SCALE
# Production-like relay settings (base 1 s, cap 60 s), divided by SCALE.
SCALED_RELAY = {
    "EDGE_OUTBOX_BACKOFF_INITIAL_S": str(1 / SCALE),
    "EDGE_OUTBOX_BACKOFF_MAX_S": str(60 / SCALE),
    "EDGE_OUTBOX_POLL_INTERVAL_S": str(5 / SCALE), "EDGE_OUTBOX_SYNC_WAIT_S": "0",
    "EDGE_CENTRAL_PROBE_INTERVAL_S": str(15 / SCALE),
}
CITIZENS = 8


def _journey_jobs(h: Hall, citizen: dict[str, Any], home: str, other: str) -> list[Job] | None:
    """An application at the citizen's terminal, a loss report at another, then its reversal
    back at the first: a reversal that overtook its report would be refused (card-not-lost)."""
    applied = application_job(h.kiosk(home), citizen)
    if applied is None:
        return None
    pin = h.ledger.detail(int(citizen["index"]))["service_pin"]
    cid, index = citizen["citizen_id"], str(citizen["index"])
    report = Job(label=("card-loss-report", index), device=other, method="POST",
                 path="/card-loss/reports", body={"citizen_id": cid, "pin": pin})
    reversal = Job(label=("card-loss-reversal", index), device=home, method="POST",
                   path="/card-loss/reversals",
                   body={"card": card_body(citizen)["card"], "pin": pin})
    return [applied, report, reversal]


def test_a_30_minute_outage_queues_then_drains_in_order(tmp_path):
    with hall(tmp_path, edge_env=SCALED_RELAY) as h:
        plans: list[list[Job]] = []
        for n, citizen in enumerate(applicants(h.ledger, 3 * CITIZENS)):
            home, other = ("kiosk-01", "kiosk-02") if n % 2 else ("kiosk-02", "kiosk-01")
            plan = _journey_jobs(h, citizen, home, other)
            if plan is not None:
                plans.append(plan)
            if len(plans) == CITIZENS:
                break
        assert len(plans) == CITIZENS
        # Interleaved: each citizen's steps in order, the citizens mixed on both terminals.
        submitted = [plan[step] for step in range(3) for plan in plans]

        h.ledger.faults(outage=True)
        outage = threading.Event()  # never set: the outage's length is the thing simulated
        never = threading.Event()
        for job in submitted:
            h.kiosk(job.device).run(job, never)
            assert job.status == 201, job.answer
            assert job.receipt is not None and job.receipt["state"] == "queued"
            assert job.receipt["qr"] == f"hrss:receipt:{job.receipt_no}"
        applied = plans[0][0]
        sid = applied.path.split("/")[2]
        listed = h.kiosk(applied.device).get(f"/sessions/{sid}/applications")
        if listed.status_code == 200:  # answered from the cache, with this one queued
            assert applied.receipt_no in {q["receipt_no"] for q in listed.json()["queued"]}
        outage.wait(OUTAGE_S)
        assert h.outbox_depth() == len(submitted)
        assert h.ledger.submissions() == []
        assert all(h.receipt(j.receipt_no or "")["state"] == "queued" for j in submitted)

        h.ledger.faults()  # central is back
        h.wait_drained(timeout=30)
        recorded = [label_of(item) for item in h.ledger.submissions()]
        devices = {label_of(item): item["device_id"] for item in h.ledger.submissions()}
        for device in ("kiosk-01", "kiosk-02"):
            sent = [j.label for j in submitted if j.device == device]
            assert [r for r in recorded if devices[r] == device] == sent
        for plan in plans:
            index = plan[0].label[1]
            assert [r for r in recorded if r[1] == index] == [j.label for j in plan]
        for job in submitted:
            assert h.receipt(job.receipt_no or "")["state"] == "sent", job.label


def _is_problem(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    if code is not None:
        assert r.json()["code"] == code, r.json()


def test_bad_requests_get_4xx_problems_never_5xx(tmp_path):
    with hall(tmp_path, population=500) as h:
        ours, theirs = h.kiosk("kiosk-01"), h.kiosk("kiosk-02")
        job = None
        for citizen in applicants(h.ledger, 10):
            job = application_job(ours, citizen)
            if job is not None:
                break
        assert job is not None
        raw = {"Content-Type": "application/json"}
        for path in (job.path, "/card-loss/reports", "/card-loss/reversals"):
            _is_problem(ours.request("POST", path, content=b'{"subsidy": ', key=new_key(),
                                     headers=raw), 422)
            _is_problem(ours.request("POST", path, content=b"{" + b" " * 100_000 + b"}",
                                     key=new_key(), headers=raw), 413, "payload-too-large")
            _is_problem(ours.request("POST", path, json=[1, 2], key=new_key()), 422)
        _is_problem(ours.request("POST", job.path, json={**job.body, "form": "x"},
                                 key=new_key()), 422)
        _is_problem(ours.request("POST", job.path, json={**job.body, "period": 2026},
                                 key=new_key()), 422)
        _is_problem(ours.request("POST", "/card-loss/reports", key=new_key(),
                                 json={"citizen_id": citizen["citizen_id"], "pin": 123456}), 422)
        _is_problem(ours.request("POST", "/card-loss/reports", key=new_key(),
                                 json={"citizen_id": citizen["citizen_id"], "pin": "12345x"}),
                    422)
        # Another terminal cannot use this terminal's session.
        _is_problem(theirs.request("POST", job.path, json=job.body, key=new_key()), 404,
                    "session-not-found")
        # No credential, or a forged one.
        r = httpx.post(f"{h.edge.url}/api/v1/card-loss/reports", json={"x": 1},
                       headers={"Idempotency-Key": new_key()})
        _is_problem(r, 401)
        r = httpx.post(f"{h.edge.url}/api/v1{job.path}", json=job.body,
                       headers={"Idempotency-Key": new_key(),
                                "Authorization": "Bearer dev2.kiosk-01.4102444800.forged"})
        _is_problem(r, 401)
        # A key used once, then with another body.
        ours.run(job, threading.Event())
        assert job.status == 201, job.answer
        other = {**job.body, "form": {k: "2" * len(v) for k, v in job.body["form"].items()}}
        _is_problem(ours.request("POST", job.path, json=other, key=job.key), 422,
                    "idempotency-key-reused")
        # The same claim again under a new key: a duplicate, told with the first receipt.
        _is_problem(ours.request("POST", job.path, json=job.body, key=new_key()), 409,
                    "duplicate-application")
        # Missing key, unknown receipt, a receipt number that is not one.
        _is_problem(ours.request("POST", job.path, json=job.body), 400)
        _is_problem(ours.get("/submissions/R20261122" + "0" * 10), 404)
        r = ours.get("/submissions/" + "x" * 300)
        assert 400 <= r.status_code < 500
        assert "Traceback" not in h.edge_proc.log_path.read_text()

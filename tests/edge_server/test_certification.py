"""Pension qualification certification through the edge (edge-api.md): the status with the
enrolled template, a certification judged again, queued through the outbox and recorded at
central exactly once, refusals that queue nothing, offline operation, the evidence sealed and
purged after its retention. On SQLite and PostgreSQL, against the central simulator; the
judgement is a stand-in here (tests/edge_server/certification/test_judge.py runs dlib's)."""

import datetime as dt
import itertools
import logging
from collections.abc import Iterator

import pytest

from edge_server import maintenance
from edge_server.outbox import relay
from tests.edge_server.certification.support import (
    central_status,
    certify,
    enrol,
    evidence,
    judged_by,
    open_session,
    pensioners,
    persona_evidence,
    register_key,
    signed_record,
)
from tests.edge_server.support import PROBLEM, Hall, hall, headers, new_key


@pytest.fixture
def hc(tmp_path, edge_database_url) -> Iterator[Hall]:
    with hall(tmp_path, database_url=edge_database_url, outbox_sync_wait_s=0) as instance, \
            judged_by():
        yield instance


@pytest.fixture
def due(hc: Hall) -> Iterator[dict]:
    """Due pensioners with the enrolment face, one after another."""
    def gen() -> Iterator[dict]:
        for citizen in pensioners(hc, "due"):
            enrol(hc, citizen)
            yield citizen
    return gen()


def drain(h: Hall) -> None:
    ctx = h.edge.app.state.edge
    for _ in range(50):
        if relay.step(ctx) > 0:
            return
    raise AssertionError("the outbox did not drain")


def status(h: Hall, sid: str, device: str = "kiosk-01"):
    return h.edge.get(f"/api/v1/sessions/{sid}/certification", headers=headers(device))


def test_the_status_names_the_citizen_and_carries_the_template(hc, due):
    citizen = next(due)
    sid = open_session(hc, citizen)
    r = status(hc, sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["citizen_id"] == citizen["citizen_id"]
    assert body["status"] == "due" and body["reason_code"] is None and not body["pending"]
    assert len(body["template"]) == 128 and body["cycle_months"] == 12
    assert "完成" in body["explanation"] and not body["stale"]
    assert hc.sql("SELECT count(*) FROM audit_log WHERE action = 'certification.viewed'") == [(1,)]
    # The template is sealed in the cache, never in the clear.
    raw = hc.database_bytes()
    assert f"{body['template'][0]!r}".encode() not in raw


def test_a_certification_is_queued_sent_once_and_the_citizen_is_then_done(hc, due, caplog):
    caplog.set_level(logging.DEBUG)
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    ev = evidence()
    record = signed_record(key, citizen["citizen_id"], hc.clock.now, ev)
    idem = new_key()
    r = certify(hc, sid, ev, record, key=idem)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["state"] == "queued" and receipt["kind"] == "pension-certification"
    assert receipt["certification_id"] == receipt["receipt_no"]
    assert receipt["certified_at"] == "2026-11-22T02:00:00Z"
    assert hc.count("outbox_item") == 1 and hc.count("certification_evidence") == 1
    assert hc.sql("SELECT device_id, method, location, staff_id, evidence_sha256, signature "
                  "FROM certification_record") == [
        ("kiosk-01", "hall", "朝阳区社保大厅", None, record["evidence_sha256"],
         record["signature"])]
    assert hc.sql("SELECT outcome FROM audit_log WHERE action = 'certification.recorded'") == [
        (receipt["receipt_no"],)]
    drain(hc)
    replay = certify(hc, sid, ev, record, key=idem)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    sent = replay.json()
    assert sent["receipt_no"] == receipt["receipt_no"] and sent["state"] == "sent"
    assert sent["certification_no"].startswith("RZ") and sent["next_due_date"] == "2027-11-22"
    rows = hc.central.get("/sim/v1/certifications",
                          params={"citizen_id": citizen["citizen_id"]}).json()
    assert rows["total"] == 1 and rows["items"][0]["signature"] == record["signature"]
    assert rows["items"][0]["evidence_sha256"] == record["evidence_sha256"]
    assert hc.count("outbox_item") == 1
    # Central's answer may still be cached as "due": the edge knows better.
    after = status(hc, sid).json()
    assert after["status"] == "done" and after["reason_code"] == "already-certified"
    again = certify(hc, sid, ev, signed_record(key, citizen["citizen_id"], hc.clock.now, ev))
    assert again.status_code == 422 and again.json()["code"] == "certification-not-due"
    assert again.json()["reason_code"] == "already-certified"
    assert hc.count("outbox_item") == 1
    # The edge's logs name the citizen masked, never in full, and never carry the template.
    template = status(hc, sid).json()["template"]
    edge_logs = "\n".join(r.getMessage() for r in caplog.records
                          if r.name.startswith("edge_server"))
    assert "certification of" in edge_logs
    assert citizen["citizen_id"] not in edge_logs
    assert repr(template[0]) not in edge_logs


def test_a_failed_judgement_is_422_with_its_reason_and_queues_nothing(hc, due):
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    ev = evidence(marker="impostor")
    record = signed_record(key, citizen["citizen_id"], hc.clock.now, ev)
    idem = new_key()
    r = certify(hc, sid, ev, record, key=idem)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "judgement-failed" and r.json()["reason"] == "not-same-person"
    assert hc.count("outbox_item") == 0 and hc.count("certification_evidence") == 0
    assert hc.count("certification_record") == 0
    assert hc.sql("SELECT outcome FROM audit_log WHERE action = 'certification.refused'") == [
        ("not-same-person",)]
    replay = certify(hc, sid, ev, record, key=idem)
    assert replay.status_code == 422 and replay.json() == r.json()
    garbage = evidence(marker="garbage")
    bad = certify(hc, sid, garbage, signed_record(key, citizen["citizen_id"], hc.clock.now,
                                                  garbage))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid-evidence"
    assert hc.count("outbox_item") == 0
    assert status(hc, sid).json()["status"] == "due"


def test_a_record_that_does_not_fit_the_session_is_refused(hc, due):
    key = register_key(hc)
    citizen, other = next(due), next(due)
    sid = open_session(hc, citizen)
    ev = evidence()
    now = hc.clock.now
    cases = {
        "citizen_id": signed_record(key, other["citizen_id"], now, ev),
        "device_id": signed_record(key, citizen["citizen_id"], now, ev, device="kiosk-02"),
        "evidence_sha256": signed_record(key, citizen["citizen_id"], now, evidence(frames=3)),
        "certified_at": signed_record(key, citizen["citizen_id"], now - dt.timedelta(hours=2),
                                      ev),
    }
    for what, record in cases.items():
        r = certify(hc, sid, ev, record)
        assert r.status_code == 422 and r.json()["code"] == "record-mismatch", what
        assert what in r.json()["detail"]
    late = signed_record(key, citizen["citizen_id"], now + dt.timedelta(hours=1), ev)
    assert certify(hc, sid, ev, late).json()["code"] == "record-mismatch"
    assert hc.count("outbox_item") == 0


@pytest.mark.parametrize("field, value", [
    ("result", "failed"), ("method", "phone"), ("certified_at", "2026-11-22T02:00:00"),
    ("signature", "x" * 88), ("staff_id", "S 1"), ("location", ""),
])
def test_a_record_that_is_not_valid_data_is_422(hc, due, field, value):
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    ev = evidence()
    record = {**signed_record(key, citizen["citizen_id"], hc.clock.now, ev), field: value}
    r = certify(hc, sid, ev, record)
    assert r.status_code == 422 and r.json()["code"] == "validation-error"


def test_a_citizen_who_is_not_due_is_told_why_and_cannot_certify(hc):
    key = register_key(hc)
    citizen = next(pensioners(hc, "done"))
    enrol(hc, citizen)
    sid = open_session(hc, citizen)
    body = status(hc, sid).json()
    assert body["status"] == "done" and body["reason_code"] == "already-certified"
    assert "无需重复认证" in body["explanation"]
    ev = evidence()
    r = certify(hc, sid, ev, signed_record(key, citizen["citizen_id"], hc.clock.now, ev))
    assert r.status_code == 422 and r.json()["code"] == "certification-not-due"
    assert hc.count("outbox_item") == 0


def test_a_second_certification_while_one_is_on_its_way_is_409(hc, due):
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    ev = evidence()
    first = certify(hc, sid, ev, signed_record(key, citizen["citizen_id"], hc.clock.now, ev))
    assert first.status_code == 201
    assert status(hc, sid).json()["pending"] is True
    hc.clock.advance(1)
    second = certify(hc, sid, ev, signed_record(key, citizen["citizen_id"], hc.clock.now, ev))
    assert second.status_code == 409 and second.json()["code"] == "certification-pending"
    assert hc.count("outbox_item") == 1


def test_certified_while_central_is_down_then_delivered_exactly_once(hc, due):
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    assert status(hc, sid).json()["status"] == "due"  # cached
    hc.link.down = True
    hc.clock.advance(hc.settings.cache_ttl_s + 1)
    cached = status(hc, sid).json()
    assert cached["status"] == "due" and cached["stale"] is True
    ev = evidence()
    record = signed_record(key, citizen["citizen_id"], hc.clock.now, ev)
    idem = new_key()
    r = certify(hc, sid, ev, record, key=idem)
    assert r.status_code == 201 and r.json()["state"] == "queued"
    relay.step(hc.edge.app.state.edge)  # central still down: nothing delivered
    assert hc.central.get("/sim/v1/certifications",
                          params={"citizen_id": citizen["citizen_id"]}).json()["total"] == 0
    hc.link.down = False
    hc.clock.advance(60)
    for _ in range(3):
        drain(hc)
    assert certify(hc, sid, ev, record, key=idem).json()["state"] == "sent"
    assert hc.central.get("/sim/v1/certifications",
                          params={"citizen_id": citizen["citizen_id"]}).json()["total"] == 1
    assert central_status(hc, citizen["citizen_id"])["status"] == "done"


def test_central_refusing_the_record_shows_on_the_receipt(hc, due):
    register_key(hc)  # central knows another key for kiosk-01 than the one that signs
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    citizen = next(due)
    sid = open_session(hc, citizen)
    ev = evidence()
    record = signed_record(Ed25519PrivateKey.generate(), citizen["citizen_id"], hc.clock.now, ev)
    idem = new_key()
    assert certify(hc, sid, ev, record, key=idem).status_code == 201
    drain(hc)
    refused = certify(hc, sid, ev, record, key=idem).json()
    assert refused["state"] == "refused" and refused["refusal_code"] == "bad-signature"
    assert status(hc, sid).json()["status"] == "due"  # a refused one does not count


def test_the_evidence_is_sealed_and_purged_after_its_retention(hc, due):
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    ev = evidence()
    marker = ev["frames"][0]["jpeg"][:40].encode()
    r = certify(hc, sid, ev, signed_record(key, citizen["citizen_id"], hc.clock.now, ev))
    assert r.status_code == 201
    assert marker not in hc.database_bytes()
    from edge_server.certification import evidence_store

    ctx = hc.edge.app.state.edge
    assert evidence_store.open_evidence(ctx, r.json()["receipt_no"]) == ev
    hc.clock.advance(86400 * (hc.settings.certification_evidence_retention_days - 1))
    assert maintenance.purge(ctx).certification_evidence == 0
    hc.clock.advance(86400 * 2)
    assert maintenance.purge(ctx).certification_evidence == 1
    assert hc.count("certification_evidence") == 0 and hc.count("certification_record") == 1
    assert evidence_store.open_evidence(ctx, r.json()["receipt_no"]) is None


def test_another_devices_session_is_not_found(hc, due):
    citizen = next(due)
    sid = open_session(hc, citizen)
    assert status(hc, sid, device="kiosk-02").status_code == 404
    ev = evidence()
    r = certify(hc, sid, ev, {"x": 1}, device="kiosk-02")
    assert r.status_code in (404, 422)


def test_the_body_limit_is_raised_for_evidence_only(hc, due):
    citizen = next(due)
    sid = open_session(hc, citizen)
    key = register_key(hc)
    # Five frames of 60 KB (the kiosk's usual evidence) pass the limit.
    ev = evidence(frames=5, frame_bytes=60_000)
    r = certify(hc, sid, ev, signed_record(key, citizen["citizen_id"], hc.clock.now, ev))
    assert r.status_code == 201, r.text[:200]
    too_big = evidence(frames=8, frame_bytes=300_000)
    r = certify(hc, next(itertools.repeat(sid)), too_big, {"x": 1})
    assert r.status_code == 413 and r.json()["code"] == "payload-too-large"
    # Every other route keeps the small limit.
    big_form = {"subsidy": "job-seeking", "period": "2026-11", "form": {"x": "y" * 100_000}}
    r = hc.edge.post(f"/api/v1/sessions/{sid}/applications", json=big_form,
                     headers=headers("kiosk-01", new_key()))
    assert r.status_code == 413


def test_evidence_nested_too_deep_is_invalid_not_an_error(hc, due):
    key = register_key(hc)
    citizen = next(due)
    sid = open_session(hc, citizen)
    nested: object = []
    for _ in range(800):
        nested = [nested]
    ev = {**evidence(), "timings": nested}
    record = signed_record(key, citizen["citizen_id"], hc.clock.now, {"x": 1})
    r = certify(hc, sid, ev, {**record})
    assert r.status_code == 422 and r.json()["code"] == "invalid-evidence"
    assert hc.count("outbox_item") == 0


def test_the_real_judgement_certifies_the_live_person_and_not_an_impostor(
        tmp_path, edge_database_url):
    with hall(tmp_path, database_url=edge_database_url, outbox_sync_wait_s=0) as h:
        key = register_key(h)
        people = pensioners(h, "due")
        live, other = next(people), next(people)
        for citizen in (live, other):
            enrol(h, citizen)
        sid = open_session(h, live)
        ev = persona_evidence("live")
        r = certify(h, sid, ev, signed_record(key, live["citizen_id"], h.clock.now, ev))
        assert r.status_code == 201, r.text
        sid = open_session(h, other)
        ev = persona_evidence("impostor")
        r = certify(h, sid, ev, signed_record(key, other["citizen_id"], h.clock.now, ev))
        assert r.status_code == 422 and r.json()["reason"] == "not-same-person"
        assert h.count("outbox_item") == 1

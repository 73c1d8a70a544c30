"""Personal data: encrypted at rest, absent from logs and the audit log."""

import logging

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from edge_server import audit
from edge_server.db import session_scope
from edge_server.models import AuditEntry, IdempotencyRecord
from edge_server.schemas import OpenSessionRequest
from edge_server.services.sessions import live_session
from tests.edge_server.support import card_body


def journey(h, citizen):
    sid = h.open(citizen).json()["session_id"]
    assert h.benefits(sid).status_code == 200
    assert h.end(sid).status_code == 204
    h.open(h.citizen(card_status="reported-lost"))


def test_nothing_personal_is_stored_in_clear(h):
    citizen = h.citizen(receiving_pension=True)
    journey(h, citizen)
    account = h.detail(citizen["index"])["pension"]["account"]
    data = h.database_bytes()
    assert len(data) > 10_000
    for secret in (citizen["citizen_id"], citizen["name"], account,
                   citizen["card"]["card_number"]):
        assert secret.encode() not in data, "found in the database files"
    assert citizen["name"].encode("utf-16-le") not in data
    # ... while the database does hold the encrypted rows.
    assert h.count("citizen_cache") == 3
    assert h.count("service_session") == 1


def test_the_scan_would_find_clear_text(h):
    """The scan above can fail: the same bytes written in clear are found."""
    citizen = h.citizen()
    h.sql("CREATE TABLE leak (v TEXT)")
    h.sql("INSERT INTO leak VALUES (:v)", v=citizen["citizen_id"] + citizen["name"])
    data = h.database_bytes()
    assert citizen["citizen_id"].encode() in data and citizen["name"].encode() in data


def test_logs_hold_no_id_or_name(h, caplog):
    caplog.set_level(logging.DEBUG)
    citizen = h.citizen(receiving_pension=True)
    journey(h, citizen)
    h.outage()
    h.clock.advance(3600)
    h.open(citizen)  # stale path
    h.open(h.citizen(7))  # 503 path
    text = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "opened" in text, "the capture works"
    assert citizen["citizen_id"] not in text
    assert citizen["citizen_id"][6:14] not in text, "not even the birth date part"
    assert citizen["name"] not in text


def test_audit_entries_hold_masked_ids_only(h):
    citizen = h.citizen(receiving_pension=True)
    journey(h, citizen)
    ctx = h.edge.app.state.edge
    with session_scope(ctx.engine) as db:
        entries = db.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert audit.verify_chain(db).ok
    assert [e.action for e in entries] == [
        "session.opened", "benefits.viewed", "session.ended", "session.refused"]
    assert entries[0].masked_id == citizen["citizen_id"][:6] + "*" * 8 + citizen["citizen_id"][-4:]
    assert entries[3].outcome == "card-reported-lost"
    for e in entries:
        assert citizen["citizen_id"] not in repr(e.model_dump())
        assert citizen["name"] not in repr(e.model_dump())


def test_tampering_with_the_audit_log_is_detected(h):
    journey(h, h.citizen())
    h.sql("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2")
    ctx = h.edge.app.state.edge
    with session_scope(ctx.engine) as db:
        report = audit.verify_chain(db)
    assert not report.ok and report.first_bad_seq == 2


def test_reprs_hide_personal_fields(h):
    """What can end up in a traceback: the request body and a live session."""
    citizen = h.citizen()
    body = card_body(citizen)
    request = OpenSessionRequest.model_validate(body)
    sid = h.open(citizen).json()["session_id"]
    live = live_session(h.edge.app.state.edge, "kiosk-01", sid)
    assert live.citizen_id == citizen["citizen_id"], "the session does hold the ID"
    for value in (request, live):
        text = repr(value)
        for secret in (citizen["citizen_id"], citizen["name"], body["card"]["card_number"],
                       body["card"]["card_id_code"]):
            assert secret not in text


def test_database_errors_do_not_carry_row_values(h):
    """An unexpected database error gets logged with its message: no row values in it."""
    ctx = h.edge.app.state.edge

    def row() -> IdempotencyRecord:
        return IdempotencyRecord(device_id="kiosk-01", key="value-to-hide", fingerprint="f",
                                 state="done", created_at=ctx.now())

    with session_scope(ctx.engine) as db:
        db.add(row())
    with pytest.raises(IntegrityError) as caught, session_scope(ctx.engine) as db:
        db.add(row())
    assert "idempotency_record" in str(caught.value), "the message is the database's"
    assert "value-to-hide" not in str(caught.value)

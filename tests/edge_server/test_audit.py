"""The hash-chained audit log."""

import datetime as dt
import itertools
import sqlite3
import threading

from sqlmodel import select

from common.sqlite import make_engine
from edge_server import audit, migrate
from edge_server.db import run_in_transaction, session_scope
from edge_server.models import AuditEntry, AuditHead

AT = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


def engine_at(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate.upgrade(engine)
    return engine


def write(engine, n, device="kiosk-01"):
    for i in range(n):
        run_in_transaction(engine, lambda db, i=i: audit.append(
            db, at=AT + dt.timedelta(seconds=i), device_id=device, action="session.opened",
            session_id=f"ses_{i}", masked_id="110105********002X", outcome="ok"))


def verify(engine):
    with session_scope(engine) as db:
        return audit.verify_chain(db)


def test_an_untouched_chain_verifies(tmp_path):
    engine = engine_at(tmp_path)
    assert verify(engine).ok and verify(engine).entries == 0
    write(engine, 5)
    report = verify(engine)
    assert report.ok and report.entries == 5
    with session_scope(engine) as db:
        entries = db.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


def tamper(tmp_path, sql, *params):
    with sqlite3.connect(tmp_path / "a.db") as db:
        db.execute(sql, params)


def test_an_edited_field_is_detected(tmp_path):
    engine = engine_at(tmp_path)
    write(engine, 5)
    tamper(tmp_path, "UPDATE audit_log SET device_id = 'kiosk-99' WHERE seq = 3")
    report = verify(engine)
    assert not report.ok and report.first_bad_seq == 3


def test_an_edited_time_is_detected(tmp_path):
    engine = engine_at(tmp_path)
    write(engine, 3)
    tamper(tmp_path, "UPDATE audit_log SET at = '2020-01-01 00:00:00.000000' WHERE seq = 2")
    assert verify(engine).first_bad_seq == 2


def test_a_rehashed_entry_breaks_the_next_link(tmp_path):
    engine = engine_at(tmp_path)
    write(engine, 4)
    with session_scope(engine) as db:
        entry = db.get(AuditEntry, 2)
        entry.action = "session.ended"
        entry.hash = audit.entry_hash(entry.prev_hash, entry)  # a careful forger
        db.add(entry)
    report = verify(engine)
    assert not report.ok and report.first_bad_seq == 3


def test_a_deleted_entry_is_detected(tmp_path):
    engine = engine_at(tmp_path)
    write(engine, 4)
    tamper(tmp_path, "DELETE FROM audit_log WHERE seq = 2")
    report = verify(engine)
    assert not report.ok and report.first_bad_seq == 2


def test_concurrent_writers_do_not_fork_the_chain(tmp_path):
    engine = engine_at(tmp_path)
    barrier = threading.Barrier(4)

    def writer(n):
        barrier.wait(10)
        write(engine, 10, device=f"kiosk-{n}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    report = verify(engine)
    assert report.ok and report.entries == 40


def test_a_long_chain_is_walked_in_batches(tmp_path):
    engine = engine_at(tmp_path)
    with session_scope(engine) as db:
        for i in range(1100):
            audit.append(db, at=AT, device_id="d", action="a", session_id=str(i))
            db.flush()
    assert verify(engine).entries == 1100
    tamper(tmp_path, "UPDATE audit_log SET session_id = 'x' WHERE seq = 1050")
    assert verify(engine).first_bad_seq == 1050


def test_the_head_row_follows_the_chain_and_a_log_without_one_goes_on(tmp_path):
    """A log written before the head row existed (or with it lost) continues from its last
    entry instead of forking at seq 1."""
    engine = engine_at(tmp_path)
    write(engine, 3)
    with session_scope(engine) as db:
        head = db.get(AuditHead, audit.HEAD_ID)
        last = db.get(AuditEntry, 3)
        assert (head.seq, head.hash) == (3, last.hash)
    tamper(tmp_path, "DELETE FROM audit_head")
    write(engine, 2)
    report = verify(engine)
    assert report.ok and report.entries == 5

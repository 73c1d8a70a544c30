import datetime as dt
import sqlite3
import threading
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.exc import OperationalError, StatementError

from common.clock import CHINA_TZ
from common.sqlite import (
    LOOP_READ_BUSY_MS,
    WRITE_OPTION,
    UtcDateTime,
    is_sqlite,
    make_engine,
    make_loop_reader,
)

meta = MetaData()
events = Table("events", meta, Column("id", Integer, primary_key=True), Column("at", UtcDateTime))


def test_sqlite_engines_get_wal_busy_timeout_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/db/x.sqlite")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert is_sqlite(str(engine.url)) and not is_sqlite("postgresql://h/db")


def test_utc_column_round_trips_aware_utc_and_refuses_naive(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/x.sqlite")
    meta.create_all(engine)
    local = dt.datetime(2026, 12, 1, 8, 0, tzinfo=CHINA_TZ)
    with engine.begin() as conn:
        conn.execute(events.insert().values(id=1, at=local))
        got = conn.execute(select(events.c.at)).scalar_one()
    assert got == local and got.tzinfo == dt.UTC
    with pytest.raises(StatementError, match="naive"), engine.begin() as conn:
        conn.execute(events.insert().values(id=2, at=dt.datetime(2026, 1, 1)))


def test_two_read_then_write_transactions_queue_instead_of_failing(tmp_path):
    # BEGIN IMMEDIATE: the second writer waits for the first instead of SQLITE_BUSY_SNAPSHOT.
    engine = make_engine(f"sqlite:///{tmp_path}/x.sqlite")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE n (v INTEGER)")
        conn.exec_driver_sql("INSERT INTO n VALUES (0)")
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(20):
                with engine.begin() as conn:
                    v = conn.execute(text("SELECT v FROM n")).scalar_one()
                    conn.execute(text("UPDATE n SET v = :v"), {"v": v + 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect().execution_options(**{WRITE_OPTION: False}) as conn:
        assert conn.execute(text("SELECT v FROM n")).scalar_one() == 80


def test_the_loop_reader_reads_only_and_exists_for_sqlite_files_only(tmp_path):
    url = f"sqlite:///{tmp_path}/x.sqlite"
    with make_engine(url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE n (v INTEGER)")
        conn.exec_driver_sql("INSERT INTO n VALUES (7)")
    reader = make_loop_reader(url)
    assert reader is not None
    with reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT v FROM n").scalar() == 7
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == LOOP_READ_BUSY_MS
        with pytest.raises(OperationalError, match="readonly"):
            conn.exec_driver_sql("INSERT INTO n VALUES (8)")
    reader.dispose()
    assert make_loop_reader("sqlite://") is None
    assert make_loop_reader("postgresql://localhost/edge") is None


def test_the_loop_reader_gives_up_within_its_busy_timeout(tmp_path):
    # A connection in exclusive locking mode keeps every other reader out, as WAL recovery
    # briefly does: the loop's read fails fast (its caller falls back to a worker thread).
    url = f"sqlite:///{tmp_path}/x.sqlite"
    writer = make_engine(url)
    with writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE n (v INTEGER)")
    writer.dispose()
    holder = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO n VALUES (1)")
    reader = make_loop_reader(url)
    assert reader is not None
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), reader.connect() as conn:
            conn.exec_driver_sql("SELECT v FROM n").all()
        assert time.monotonic() - started < 5  # not the writers' 30 s
    finally:
        holder.close()
        reader.dispose()

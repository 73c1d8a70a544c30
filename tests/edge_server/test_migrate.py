"""The edge's schema through its migrations: a database of the previous release upgrades with
its data, one step down gives that release its schema back, the models agree with head, and
concurrent starts do not race."""

import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from common.sqlite import make_engine
from edge_server import audit, migrate
from edge_server.db import session_scope
from tests.edge_server.support import hall, headers
from tests.harness.concurrent import run_at_once

FIXTURES = Path(__file__).with_name("fixtures")
RELEASE_SQL = FIXTURES / "release_0_1_0.sql"
LIVE_SESSION = "ses_X47vQ8_o-ZdRBMDz9fIfKzNOuzIN9Ide"  # kiosk-01's, in the dump


def release_0_1_0_database(directory: Path) -> Path:
    """The previous release's database and its data key, as that release left them."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "edge.db"
    with sqlite3.connect(path) as db:
        db.executescript(RELEASE_SQL.read_text())
    key = directory / "data.key"
    shutil.copyfile(FIXTURES / "release_0_1_0.data.key", key)
    os.chmod(key, 0o600)
    return path


def schema(path: Path) -> dict[str, object]:
    """Tables with their columns (name, type, nullability, key) and indexes, for comparison."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name != 'alembic_version'"
            " ORDER BY name")]
        return {
            table: (
                [tuple(c[1:]) for c in db.execute(f"PRAGMA table_info('{table}')")],
                sorted((i[1], i[2]) for i in db.execute(f"PRAGMA index_list('{table}')")),
            )
            for table in tables
        }


def rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute(f"SELECT * FROM {table}").fetchall())


def version(path: Path) -> str | None:
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT name FROM sqlite_master WHERE name='alembic_version'").fetchone()
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0] if found \
            else None


def test_a_release_0_1_0_database_is_upgraded_with_its_data(tmp_path):
    path = release_0_1_0_database(tmp_path / "edge")
    before = {t: rows(path, t) for t in schema(path)}
    assert version(path) is None and before["service_session"]

    # The edge starts on it (create_app migrates) and serves what the old release stored.
    with hall(tmp_path) as h:
        assert version(path) == migrate.head()
        r = h.get(LIVE_SESSION)
        assert r.status_code == 200 and r.json()["citizen"]["display_name"].endswith("*")
        replay = h.edge.post("/api/v1/sessions", json={"method": "card", "card": {
            "citizen_id": "110105194912310020", "card_number": "X1"}},
            headers=headers(key="key-bad"))
        # key-bad was a different body: the old record still guards the key.
        assert (replay.status_code, replay.json()["code"]) == (422, "idempotency-key-reused")
        assert h.open(h.citizen(5)).status_code == 201  # and it writes to the new tables

    assert "rate_bucket" in schema(path)
    for table, old_rows in before.items():
        if table != "audit_head":  # the chain's head row moves on with every entry
            assert set(old_rows) <= set(rows(path, table)), table
    engine = make_engine(f"sqlite:///{path}")
    try:
        with session_scope(engine, write=False) as db:
            report = audit.verify_chain(db)
        assert report.ok and report.entries == len(before["audit_log"]) + 1
    finally:
        engine.dispose()


def test_going_down_gives_the_previous_release_its_schema_and_data(tmp_path):
    path = release_0_1_0_database(tmp_path / "edge")
    released = schema(path)
    data = {t: rows(path, t) for t in released}
    engine = make_engine(f"sqlite:///{path}")
    try:
        # Every step up, then every step down: each one down gives the schema of the revision
        # below it, exactly.
        steps = [migrate.RELEASE_0_1_0]
        snapshots = [released]
        while steps[-1] != migrate.head():
            migrate.upgrade(engine, "+1")
            steps.append(version(path))
            snapshots.append(schema(path))
        assert "outbox_item" in snapshots[-1] and "outbox_item" not in snapshots[1]
        for expected in reversed(snapshots[:-1]):
            migrate.downgrade(engine, "-1")
            assert schema(path) == expected
    finally:
        engine.dispose()
    assert version(path) == migrate.RELEASE_0_1_0
    assert schema(path) == released
    assert {t: rows(path, t) for t in released} == data
    # Upgrading again (the rollback rolled forward) works from there.
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    assert version(path) == migrate.head()


def test_the_models_and_head_agree(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts=migrate.COMPARE_OPTIONS)
            assert compare_metadata(context, migrate.target_metadata()) == []
        assert set(inspect(engine).get_table_names()) == (
            set(migrate.target_metadata().tables) & {
                "citizen_cache", "service_session", "idempotency_record", "audit_log",
                "audit_head", "rate_bucket", "outbox_item", "claim_guard", "card_block",
                "sync_cursor", "certification_evidence", "certification_record", "field_trip",
                "field_roster", "issued_certificate"} | {"alembic_version"})
    finally:
        engine.dispose()


def test_the_head_revision_of_a_fresh_database_is_the_models(tmp_path):
    """Every table of the edge's models exists after the migrations, and nothing else."""
    from edge_server.models import EDGE_TABLES

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        migrate.upgrade(engine)
        assert set(inspect(engine).get_table_names()) == EDGE_TABLES | {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("previous_release", [False, True])
def test_concurrent_upgrades_do_not_race(tmp_path, previous_release):
    path = (release_0_1_0_database(tmp_path / "edge") if previous_release
            else tmp_path / "edge" / "edge.db")
    engines = [make_engine(f"sqlite:///{path}") for _ in range(4)]
    errors = run_at_once(migrate.upgrade, engines)
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert version(path) == migrate.head()


# -- PostgreSQL (a busy hall) ------------------------------------------------------------------
@pytest.fixture
def pg_engine(postgres_url):
    engine = make_engine(postgres_url)
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def test_postgresql_head_agrees_with_the_models(pg_engine):
    migrate.upgrade(pg_engine)
    with pg_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=migrate.COMPARE_OPTIONS)
        assert compare_metadata(context, migrate.target_metadata()) == []
        assert migrate.current(connection) == migrate.head()


def test_postgresql_release_0_1_0_times_survive_the_upgrade_and_the_rollback(pg_engine):
    # Release 0.1.0's create_all schema (revision 0001 without its version row), with a row
    # whose time was stored naive, in UTC, as that release did.
    migrate.upgrade(pg_engine, migrate.RELEASE_0_1_0)
    at = "2026-11-22 02:00:00"
    with pg_engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text(
            "INSERT INTO audit_log (seq, at, device_id, action, prev_hash, hash)"
            " VALUES (1, :at, 'kiosk-01', 'session.opened', 'p', 'h')"), {"at": at})
    migrate.upgrade(pg_engine)

    def stored() -> tuple[str, str]:
        with pg_engine.connect() as connection:
            row = connection.execute(text(
                "SELECT at::text, pg_typeof(at)::text FROM audit_log")).one()
            return row[0], row[1]

    with pg_engine.connect() as connection:
        connection.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
        assert connection.execute(text(
            "SELECT at AT TIME ZONE 'UTC' FROM audit_log")).scalar_one().isoformat(" ") == at
    assert stored()[1] == "timestamp with time zone"
    migrate.downgrade(pg_engine, "0002")
    assert not inspect(pg_engine).has_table("outbox_item")
    migrate.downgrade(pg_engine, "-1")
    assert stored() == (at, "timestamp without time zone")
    assert not inspect(pg_engine).has_table("rate_bucket")


def test_postgresql_concurrent_upgrades_take_turns(pg_engine, postgres_url):
    engines = [make_engine(postgres_url) for _ in range(3)]
    errors = run_at_once(migrate.upgrade, engines)
    for engine in engines:
        engine.dispose()
    assert errors == []
    with pg_engine.connect() as connection:
        assert migrate.current(connection) == migrate.head()


def test_the_cli_takes_the_database_down_for_a_rollback_and_up_again(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kioskctl.cli import app

    path = release_0_1_0_database(tmp_path / "edge")
    for name, value in (("EDGE_DATABASE_URL", f"sqlite:///{path}"), ("EDGE_HALL_SECRET", "s"),
                        ("EDGE_CENTRAL_API_KEY", "k")):
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(app, ["edge", "--migrate-to", "head"])
    assert result.exit_code == 0, result.output
    assert version(path) == migrate.head() and "rate_bucket" in schema(path)
    result = runner.invoke(app, ["edge", "--migrate-to", migrate.RELEASE_0_1_0])
    assert result.exit_code == 0, result.output
    assert version(path) == migrate.RELEASE_0_1_0 and "rate_bucket" not in schema(path)
    result = runner.invoke(app, ["edge", "--migrate-to", "9999"])
    assert result.exit_code == 2 and "cannot migrate" in result.output


def test_opening_the_database_while_another_process_migrates_it_waits(tmp_path):
    """A second edge starting while the first holds its migration transaction: switching the
    file to WAL needs a lock SQLite does not wait for, so the engine retries (common.sqlite)."""
    path = tmp_path / "edge.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # rollback-journal mode, write lock held: mid-migration
    holder.execute("CREATE TABLE first_migration (x)")
    # The holder commits a moment later, from another thread, as the first process would.
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:  # here, while the lock is held
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert inspect(connection).has_table("first_migration")
    finally:
        release.join()
        holder.close()
        engine.dispose()

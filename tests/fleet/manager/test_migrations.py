"""Registry migrations: the previous release's database upgrades (rows kept) and downgrades one
step; a fresh database at head matches the models; concurrent starts migrate once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from common.clock import utc_now
from fleet.manager import migrations
from fleet.manager.db import Database, open_database
from fleet.manager.models import REGISTRY_METADATA
from fleet.manager.registry import Registry
from tests.fleet.manager.support import birth, death
from tests.harness.concurrent import run_at_once

FIXTURES = Path(__file__).parent / "fixtures"


def _previous_release(path: Path) -> Database:
    """The registry as commit fea8c34 left it (create_all, no version table), with rows."""
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "registry_fea8c34.sql").read_text())
    return open_database(f"sqlite:///{path}")


def _columns(db: Database, table: str) -> set[str]:
    with db.read.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def _revision(db: Database) -> str | None:
    with db.read.connect() as conn:
        return migrations.current(conn)


def test_the_previous_release_upgrades_to_head_and_keeps_its_rows(tmp_path: Path) -> None:
    db = _previous_release(tmp_path / "fleet.db")
    try:
        migrations.upgrade(db)
        assert _revision(db) == migrations.head()
        assert {"pending_death_seq", "pending_death_reason"} <= _columns(db, "fleet_device")
        registry = Registry(db, history_interval_s=0)
        old = registry.get_device("T-0002")
        assert old is not None and not old.online and old.presence_reason == "will"
        assert [e.kind for e in registry.presence_events("T-0002", 10)] == ["death", "birth"]
        command = registry.get_command("c0001")
        assert command is not None and command.output == {"pong": True}
        # And it works at head: a new session of the old device.
        registry.apply_batch([birth(old.presence_seq + 1, device_id="T-0002")], utc_now())
        assert registry.get_device("T-0002").online

        migrations.downgrade(db, "-1")
        assert _revision(db) == "0003"
        with db.read.connect() as conn:
            assert not inspect(conn).has_table("fleet_device_config")
            assert inspect(conn).has_table("fleet_rollout")
        migrations.downgrade(db, "-1")
        assert _revision(db) == "0002"
        with db.read.connect() as conn:
            assert not inspect(conn).has_table("fleet_rollout")
        migrations.downgrade(db, "-1")
        assert _revision(db) == migrations.BASELINE
        assert "pending_death_seq" not in _columns(db, "fleet_device")
        with db.read.connect() as conn:  # rows survive the downgrade
            ids = conn.execute(text("SELECT id FROM fleet_device ORDER BY id")).scalars().all()
        assert ids == ["T-0001", "T-0002"]
    finally:
        db.dispose()


def test_head_matches_the_models(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'fleet.db'}")
    try:
        migrations.upgrade(db)
        with db.read.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
            )
            assert compare_metadata(context, REGISTRY_METADATA) == []
    finally:
        db.dispose()


def test_head_of_the_previous_release_matches_the_models_too(tmp_path: Path) -> None:
    db = _previous_release(tmp_path / "fleet.db")
    try:
        migrations.upgrade(db)
        with db.read.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
            )
            assert compare_metadata(context, REGISTRY_METADATA) == []
    finally:
        db.dispose()


def test_managers_starting_at_once_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    _previous_release(path).dispose()
    dbs = [open_database(f"sqlite:///{path}") for _ in range(4)]
    errors = run_at_once(migrations.upgrade, dbs)
    try:
        assert errors == []
        assert _revision(dbs[0]) == migrations.head()
        registry = Registry(dbs[0], history_interval_s=0)
        registry.apply_batch([death(1, device_id="T-0001")], utc_now())
        assert registry.get_device("T-0001") is not None
    finally:
        for db in dbs:
            db.dispose()


def test_managers_starting_at_once_on_postgresql_migrate_once(postgres_db: str) -> None:
    dbs = [open_database(postgres_db) for _ in range(4)]
    errors = run_at_once(migrations.upgrade, dbs)
    try:
        assert errors == []
        assert _revision(dbs[0]) == migrations.head()
        with dbs[0].read.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
            )
            assert compare_metadata(context, REGISTRY_METADATA) == []
        migrations.downgrade(dbs[0], migrations.BASELINE)
        assert _revision(dbs[0]) == migrations.BASELINE
    finally:
        for db in dbs:
            db.dispose()

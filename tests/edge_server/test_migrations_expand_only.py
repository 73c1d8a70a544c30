"""Every edge migration is expand-only relative to the revision before it, so that after an A/B
update rolls back, the previous release runs on the database the new one migrated (common.
migrations leaves a database ahead of it as it is; docs/fleet-updates.md, "The edge database
across an update").

For each revision k, a fresh SQLite database at k-1 and another at k:
- every table and column of k-1 is still there at k, with a compatible type, and a column that
  was nullable stays nullable (unless it gained a server default);
- a column that k adds to a table of k-1 is nullable or has a server default, and k adds no
  uniqueness to a table of k-1: the previous release's INSERTs, which know nothing of it, still
  succeed. They are run too: one row per table of k-1, its columns only, into the database at k.
Only a revision that declares `contract = True` at module level may drop a table or a column
(and it must ship at least one release after the one that stopped using them: the two-release
rule, which the reviewer checks, not this test).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import Script, ScriptDirectory
from sqlalchemy import inspect

from common.migrations import Migrations
from common.sqlite import make_engine
from edge_server import migrate
from tests.edge_server.support import hall


@dataclasses.dataclass(frozen=True)
class Column:
    type: sa.types.TypeEngine
    nullable: bool
    server_default: str | None


@dataclasses.dataclass(frozen=True)
class Table:
    columns: dict[str, Column]
    unique: frozenset[frozenset[str]]  # primary key, unique constraints, unique indexes


def revisions() -> list[Script]:
    """The edge's scripts, oldest first."""
    script = ScriptDirectory.from_config(migrate.MIGRATIONS.config())
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def database_at(migrations: Migrations, revision: str, path: Path) -> dict[str, Table]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrations.upgrade(engine, revision)
        found = inspect(engine)
        tables = {}
        for name in found.get_table_names():
            if name == migrations.version_table:
                continue
            unique = {frozenset(found.get_pk_constraint(name)["constrained_columns"])}
            unique |= {frozenset(u["column_names"]) for u in found.get_unique_constraints(name)}
            unique |= {frozenset(i["column_names"]) for i in found.get_indexes(name)
                       if i["unique"]}
            tables[name] = Table(
                {c["name"]: Column(c["type"], c["nullable"], c.get("default"))
                 for c in found.get_columns(name)},
                frozenset(unique - {frozenset()}))
        return tables
    finally:
        engine.dispose()


def compatible(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> bool:
    """The previous release's values still fit: the same kind, strings no shorter."""
    if isinstance(old, sa.String) and isinstance(new, sa.String):
        return new.length is None or (old.length is not None and new.length >= old.length)
    return old._type_affinity is new._type_affinity


def problems(before: dict[str, Table], after: dict[str, Table], *, contract: bool) -> list[str]:
    """What in `after` would break the release that knows only `before`."""
    found: list[str] = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            if not contract:
                found.append(f"table {name} dropped (needs contract = True)")
            continue
        for column, was in old.columns.items():
            now = new.columns.get(column)
            if now is None:
                if not contract:
                    found.append(f"column {name}.{column} dropped (needs contract = True)")
            elif not compatible(was.type, now.type):
                found.append(f"column {name}.{column} changed type {was.type} -> {now.type}")
            elif was.nullable and not now.nullable and now.server_default is None:
                found.append(f"column {name}.{column} became NOT NULL")
        for column in new.columns.keys() - old.columns.keys():
            added = new.columns[column]
            if not added.nullable and added.server_default is None:
                found.append(f"column {name}.{column} added NOT NULL without a server default")
        for keys in new.unique - old.unique:
            found.append(f"table {name} gained uniqueness on {sorted(keys)}")
    return found


VALUES: list[tuple[type[sa.types.TypeEngine], object]] = [
    (sa.Integer, 1), (sa.Float, 1.5), (sa.String, "x"), (sa.LargeBinary, b"x"),
    (sa.DateTime, dt.datetime(2026, 12, 1, 9, 0).isoformat(" ")),
]


def value_for(type_: sa.types.TypeEngine) -> object:
    return next(value for kind, value in VALUES if isinstance(type_, kind))


def insert_as_previous_release(path: Path, before: dict[str, Table]) -> None:
    """One row per table of `before`, with `before`'s columns only, into the database at `path`
    (the INSERTs the previous release makes know nothing of what came later)."""
    with sqlite3.connect(path) as db:
        for name, table in before.items():
            columns = list(table.columns)
            db.execute(
                f"INSERT INTO {name} ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                [value_for(table.columns[c].type) for c in columns])


STEPS = [script for script in revisions() if script.down_revision is not None]


@pytest.mark.parametrize("script", STEPS, ids=[s.revision for s in STEPS])
def test_each_migration_is_expand_only(script: Script, tmp_path: Path) -> None:
    previous = script.down_revision
    assert isinstance(previous, str)  # the edge's history is linear
    before = database_at(migrate.MIGRATIONS, previous, tmp_path / "before.db")
    after = database_at(migrate.MIGRATIONS, script.revision, tmp_path / "after.db")
    # Each step changes the schema: the comparison below compares something.
    assert {n: set(t.columns) for n, t in before.items()} != {
        n: set(t.columns) for n, t in after.items()}
    contract = getattr(script.module, "contract", False) is True
    assert problems(before, after, contract=contract) == []
    insert_as_previous_release(tmp_path / "after.db", before)


# -- the check itself, and the rollback it protects, on a copy with one more revision --------
LATER = '''
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "{head}"
branch_labels = None
depends_on = None
{marker}

def upgrade():
{upgrade}


def downgrade():
    raise NotImplementedError
'''

EXPAND = '''    with op.batch_alter_table("service_session") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=True))
    op.create_table("later_table", sa.Column("id", sa.Integer, primary_key=True))'''

BREAKING = '''    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("outcome")
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False))
        batch.alter_column("device_id", type_=sa.String(32))
        batch.alter_column("masked_id", nullable=False)
    op.create_index("ux_audit_log_action", "audit_log", ["action"], unique=True)'''


def with_0007(directory: Path, upgrade: str, marker: str = "") -> Migrations:
    """A copy of the edge's scripts with a revision 0007 on top."""
    shutil.copytree(migrate.MIGRATIONS.script_location, directory,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "versions" / "0007_later.py").write_text(
        LATER.format(head=migrate.head(), marker=marker, upgrade=upgrade))
    return dataclasses.replace(migrate.MIGRATIONS, script_location=directory)


@pytest.mark.parametrize("contract", [False, True])
def test_the_check_finds_what_the_previous_release_cannot_run_on(tmp_path, contract):
    later = with_0007(tmp_path / "scripts", BREAKING,
                      "contract = True" if contract else "")
    before = database_at(migrate.MIGRATIONS, migrate.head(), tmp_path / "before.db")
    after = database_at(later, "0007", tmp_path / "after.db")
    declared = getattr(ScriptDirectory.from_config(later.config()).get_revision("0007").module,
                       "contract", False)
    assert declared is contract
    # `contract = True` allows the drop only; the rest breaks the previous release either way.
    dropped = [] if contract else ["column audit_log.outcome dropped (needs contract = True)"]
    assert sorted(problems(before, after, contract=declared)) == sorted([
        *dropped,
        "column audit_log.device_id changed type VARCHAR(64) -> VARCHAR(32)",
        "column audit_log.masked_id became NOT NULL",
        "column audit_log.origin added NOT NULL without a server default",
        "table audit_log gained uniqueness on ['action']"])
    # And the previous release's INSERT into audit_log does fail on it (first on the dropped
    # column, which it still names).
    with pytest.raises(sqlite3.DatabaseError,
                       match=r"no column named outcome|NOT NULL constraint failed: audit_log"):
        insert_as_previous_release(tmp_path / "after.db", before)


def described(engine: sa.Engine) -> dict[str, list[tuple[str, str, bool]]]:
    found = inspect(engine)
    return {table: [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)]
            for table in sorted(found.get_table_names())}


def test_after_a_rollback_this_release_runs_on_the_newer_database(tmp_path, edge_database_url,
                                                                  caplog):
    # The hall's database as release N+1 left it (migrated to its 0007, expand), on SQLite and
    # on PostgreSQL; then release N (this code) starts on it.
    url = edge_database_url or f"sqlite:///{tmp_path / 'edge' / 'edge.db'}"
    engine = make_engine(url)
    try:
        with_0007(tmp_path / "scripts", EXPAND).upgrade(engine)
        migrated = described(engine)
        assert ("channel", "VARCHAR(16)", True) in migrated["service_session"]
        caplog.set_level(logging.INFO, logger="common.migrations")

        with hall(tmp_path, database_url=edge_database_url) as h:  # create_app migrates
            opened = h.open(h.citizen(5))
            assert opened.status_code == 201, opened.text
            assert h.get(opened.json()["session_id"]).status_code == 200

        assert described(engine) == migrated
        with engine.connect() as connection:
            assert migrate.current(connection) == "0007"
            assert connection.execute(sa.text(
                "SELECT count(*), count(channel) FROM service_session")).one() == (1, 0)
    finally:
        engine.dispose()
    [warning] = [r.getMessage() for r in caplog.records
                 if r.name == "common.migrations" and r.levelno >= logging.WARNING]
    assert warning.startswith("edge: the database is ahead of this release (at revision 0007")

"""common.migrations on a small script directory of its own: a database migrated by a LATER
release (one more, expand-only, revision) is used as it is by this release, with one warning; an
unknown revision whose database lacks this release's schema fails clearly, before any change."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.migrations import Migrations, UnknownRevisionError
from common.sqlite import make_engine

VERSION_TABLE = "demo_version"  # not alembic's default, as the fleet registry's is not

ENV_PY = f'''
from alembic import context

context.configure(connection=context.config.attributes["connection"],
                  version_table="{VERSION_TABLE}", render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
'''

SCRIPT = '''
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''

# This release: a1 creates `thing`, a2 adds `other`.
RELEASE = {
    "a1": (None, '    op.create_table("thing", sa.Column("id", sa.Integer, primary_key=True),\n'
                 '                    sa.Column("name", sa.String(40), nullable=False))',
           '    op.drop_table("thing")'),
    "a2": ("a1", '    op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))',
           '    op.drop_table("other")'),
}
# The next release's expand step: a nullable column on a table we write, and a new table.
EXPAND = ("a2",
          '    with op.batch_alter_table("thing") as batch:\n'
          '        batch.add_column(sa.Column("note", sa.String(80), nullable=True))\n'
          '    op.create_table("later", sa.Column("id", sa.Integer, primary_key=True))',
          '    op.drop_table("later")\n'
          '    with op.batch_alter_table("thing") as batch:\n'
          '        batch.drop_column("note")')
# A next release that contracts at once: drops a column this release still writes.
CONTRACT = ("a2",
            '    with op.batch_alter_table("thing") as batch:\n'
            '        batch.drop_column("name")',
            '    with op.batch_alter_table("thing") as batch:\n'
            '        batch.add_column(sa.Column("name", sa.String(40)))')


def write_scripts(directory: Path, revisions: dict[str, tuple[str | None, str, str]]) -> Path:
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text(ENV_PY)
    for revision, (down, upgrade, downgrade) in revisions.items():
        (directory / "versions" / f"{revision}.py").write_text(SCRIPT.format(
            revision=revision, down=down, upgrade=upgrade, downgrade=downgrade))
    return directory


def migrations_of(directory: Path) -> Migrations:
    return Migrations(name="demo", script_location=directory, baseline="a1",
                      baseline_marker_table="thing", pg_lock_key=1, version_table=VERSION_TABLE)


@pytest.fixture
def release(tmp_path: Path) -> Migrations:
    return migrations_of(write_scripts(tmp_path / "release", RELEASE))


def later_release(release: Migrations, directory: Path,
                  step: tuple[str | None, str, str]) -> Migrations:
    """A copy of `release`'s script directory with one more revision, a3."""
    shutil.copytree(release.script_location, directory)
    down, upgrade, downgrade = step
    (directory / "versions" / "a3.py").write_text(SCRIPT.format(
        revision="a3", down=down, upgrade=upgrade, downgrade=downgrade))
    return dataclasses.replace(release, script_location=directory)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Path, object]]:
    path = tmp_path / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    yield path, engine
    engine.dispose()


def schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def version(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()[0]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "common.migrations" and r.levelno == logging.WARNING]


def test_a_known_revision_still_upgrades(release, database):
    path, engine = database
    release.upgrade(engine, "a1")
    assert version(path) == "a1"
    release.upgrade(engine)
    assert version(path) == "a2" == release.head()


def test_a_database_ahead_of_this_release_is_used_as_it_is(release, database, tmp_path, caplog):
    path, engine = database
    later = later_release(release, tmp_path / "later", EXPAND)
    later.upgrade(engine)
    assert version(path) == "a3"
    migrated = schema(path)
    assert "note" in dict(migrated)["thing"]

    caplog.set_level(logging.INFO, logger="common.migrations")
    caplog.clear()  # the later release's own migration above is not what is looked at
    release.upgrade(engine)  # the previous release starts after a rollback

    assert schema(path) == migrated and version(path) == "a3"
    [warning] = warnings(caplog)
    assert "ahead of this release" in warning and "a3" in warning and "a2" in warning
    assert not [r for r in caplog.records if "migrated from" in r.getMessage()]
    # And this release's writes work on it: it knows nothing of `note`, which is nullable.
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO thing (id, name) VALUES (1, 'x')")
        db.execute("INSERT INTO other (id) VALUES (1)")

    # `--migrate-to head` means the same; a way down needs the later release's scripts.
    assert release.migrate_to(engine, "head") == "a3"
    for refused in (lambda: release.migrate_to(engine, "a1"),
                    lambda: release.downgrade(engine, "-1")):
        with pytest.raises(UnknownRevisionError, match="only the release that migrated it"):
            refused()
    assert schema(path) == migrated
    # The later release itself takes it down again, to this release's head.
    assert later.migrate_to(engine, "a2") == "a2"
    assert "note" not in dict(schema(path))["thing"]


def test_an_unknown_revision_without_our_schema_fails_clearly(release, database):
    path, engine = database
    with sqlite3.connect(path) as db:  # someone else's database, or garbage
        db.execute(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL)")
        db.execute(f"INSERT INTO {VERSION_TABLE} VALUES ('zz9')")
        db.execute("CREATE TABLE thing (id INTEGER PRIMARY KEY)")
    before = schema(path)
    with pytest.raises(UnknownRevisionError) as raised:
        release.upgrade(engine)
    message = str(raised.value)
    assert "'zz9'" in message and "do not know" in message
    assert "thing.name" in message and "other" in message
    assert schema(path) == before and version(path) == "zz9"


def test_a_later_release_that_dropped_what_we_use_is_refused(release, database, tmp_path,
                                                             caplog):
    # A contract in the same release as the change that stopped using the column: the
    # previous release cannot run on it, and says what is missing instead of failing later.
    path, engine = database
    later_release(release, tmp_path / "later", CONTRACT).upgrade(engine)
    contracted = schema(path)
    caplog.set_level(logging.INFO, logger="common.migrations")
    caplog.clear()
    with pytest.raises(UnknownRevisionError, match=r"'a3'.* lacks thing\.name of this"):
        release.upgrade(engine)
    assert schema(path) == contracted and warnings(caplog) == []

"""Running a part's Alembic migrations at start: the one home for every database we own
(the edge's, the fleet registry's).

The whole upgrade runs in ONE transaction that first takes the migration lock, so two
processes starting at once on one database never race: the second waits for the first to
commit, then finds the schema at head and does nothing.
- SQLite: the transaction begins with BEGIN IMMEDIATE (common.sqlite), the database's write
  lock; SQLite's DDL is transactional, so a crash mid-upgrade leaves the old schema.
- PostgreSQL: DDL is transactional too; a transaction-scoped advisory lock serialises upgrades.

A database made by the release before migrations (`create_all`, no version table) is adopted:
stamped with the revision that is its schema, then upgraded like any other.

A database AHEAD of this release is used as it is, with one warning (`Migrations._check_ahead`):
after an A/B rollback the previous release starts on a database the newer one migrated forward,
expand-only (docs/fleet-updates.md, "The edge database across an update").
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from common.sqlite import make_engine

# One INFO line per loaded plugin at every start says nothing; "Running upgrade ..." stays.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


class UnknownRevisionError(CommandError):
    """The database is at a revision this release's scripts do not know, and is not a later
    release's database this release can run on. A CommandError, as alembic's own refusals are,
    so that callers (`kioskctl edge --migrate-to`) report both alike."""


def render_utc_type(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic `render_item`: our UTC column type is rendered with its module, not as `sa.`."""
    if type_ == "type" and type(obj).__name__ == "UtcDateTime":
        autogen_context.imports.add("import common.sqlite")
        return "common.sqlite.UtcDateTime()"
    return False


@dataclass(frozen=True)
class Migrations:
    """One part's migration scripts and how its databases are recognised and locked."""

    name: str  # for log lines: "edge", "fleet registry"
    script_location: Path
    # The revision whose schema the release before migrations made, and a table it created.
    baseline: str
    baseline_marker_table: str
    # Any constant, the same for every process of the part: PostgreSQL advisory lock key.
    pg_lock_key: int
    version_table: str = "alembic_version"

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.script_location))
        config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        revision = ScriptDirectory.from_config(self.config()).get_current_head()
        if revision is None:
            raise RuntimeError(f"{self.name}: no migration scripts in {self.script_location}")
        return revision

    def current(self, connection: Connection) -> str | None:
        return MigrationContext.configure(
            connection, opts={"version_table": self.version_table}
        ).get_current_revision()

    def _lock(self, connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.pg_lock_key}
            )
        # SQLite: BEGIN IMMEDIATE already holds the write lock.

    def _adopt_previous_release(self, connection: Connection, config: Config) -> None:
        if self.current(connection) is None and inspect(connection).has_table(
            self.baseline_marker_table
        ):
            log.info("%s: adopting a database made before migrations (stamped %s)",
                     self.name, self.baseline)
            command.stamp(config, self.baseline)

    def known(self, revision: str) -> bool:
        """Whether `revision` is one of this release's scripts (exactly: alembic would also
        resolve a unique prefix, which a version table never holds)."""
        script = ScriptDirectory.from_config(self.config())
        return any(s.revision == revision for s in script.walk_revisions())

    def _check_ahead(self, connection: Connection, revision: str) -> None:
        """The database is at `revision`, unknown to our scripts: accept it as a later
        release's database, or raise UnknownRevisionError.

        The rule: an unknown revision is AHEAD when every table and column this release's head
        creates exists in the database. Our code then finds everything it reads and writes, and
        the later release's additions are nullable or defaulted (expand-only, tested for the
        edge by tests/edge_server/test_migrations_expand_only.py), so our INSERTs still work.
        Anything else (an unrelated database, a branch that never had our latest tables, a
        later release that already dropped something we use: a contract too early) fails here,
        before any request, naming what is missing. A garbage revision on a complete schema
        passes: it cannot be told from a later release's id, and it is safe by the same
        argument. A revision our scripts DO know is never ahead: alembic follows it (or refuses
        a branch it cannot follow) as usual.
        """
        expected = _head_schema(self)
        found = inspect(connection)
        missing: list[str] = []
        for table, columns in sorted(expected.items()):
            if not found.has_table(table):
                missing.append(table)
                continue
            present = {c["name"] for c in found.get_columns(table)}
            missing += [f"{table}.{c}" for c in sorted(columns - present)]
        if missing:
            raise UnknownRevisionError(
                f"{self.name}: the database is at revision {revision!r}, which this release's "
                f"migrations (head {self.head()}) do not know, and it lacks "
                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''} of this "
                "release's schema: not a later release's database this release can run on")
        log.warning(
            "%s: the database is ahead of this release (at revision %s, this release's head is "
            "%s; a later release migrated it, e.g. before a rollback): running on it without "
            "migrating", self.name, revision, self.head())

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the database to `revision` (default: head), under the migration lock.

        A database ahead of this release (`_check_ahead`) is left as it is, whatever
        `revision`: an upgrade never goes down, and going down needs the later release's
        scripts (its `migrate_to`)."""
        with engine.begin() as connection:
            self._lock(connection)
            config = self.config(connection)
            self._adopt_previous_release(connection, config)
            before = self.current(connection)
            if before is not None and not self.known(before):
                self._check_ahead(connection, before)
                return
            command.upgrade(config, revision)
            after = self.current(connection)
        if before != after:
            log.info("%s: database schema migrated from %s to %s", self.name,
                     before or "empty", after)

    def _refuse_unknown(self, connection: Connection) -> None:
        now = self.current(connection)
        if now is not None and not self.known(now):
            raise UnknownRevisionError(
                f"{self.name}: the database is at revision {now!r}, which this release's "
                "migrations do not know: only the release that migrated it can take it down")

    def downgrade(self, engine: Engine, revision: str) -> None:
        """Take the database back to `revision` (e.g. "-1"), for a rollback of the software."""
        with engine.begin() as connection:
            self._lock(connection)
            self._refuse_unknown(connection)
            command.downgrade(self.config(connection), revision)

    def migrate_to(self, engine: Engine, revision: str) -> str | None:
        """Upgrade or downgrade to `revision`: the step an A/B rollback may run with the NEW
        software before the old one starts (the old one knows no newer revision; it also runs
        on the newer schema as it is, `upgrade`). Returns the revision the database is at
        afterwards."""
        with engine.connect() as connection:
            now = self.current(connection)
            if now is not None and not self.known(now):
                # Ahead of us: "head" means "run on it" (upgrade decides); any other target is
                # a way down only the later release's scripts know.
                if revision != "head":
                    self._refuse_unknown(connection)
                now = None
        script = ScriptDirectory.from_config(self.config())
        target = script.get_revision(revision)
        below = now is not None and target is not None and target.revision != now and any(
            r.revision == target.revision for r in script.walk_revisions("base", now)
        )
        if below and target is not None:
            self.downgrade(engine, target.revision)
        else:
            self.upgrade(engine, revision)
        with engine.connect() as connection:
            return self.current(connection)


@functools.lru_cache(maxsize=8)
def _head_schema(migrations: Migrations) -> dict[str, frozenset[str]]:
    """The tables and columns `migrations`' head creates: its scripts replayed on a scratch
    in-memory SQLite database (names only, which is what `_check_ahead` compares, so SQLite
    stands for PostgreSQL too). Once per process: the scripts do not change while it runs."""
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as scratch, _quiet(logging.getLogger("alembic.runtime.migration")):
            command.upgrade(migrations.config(scratch), "head")
            found = inspect(scratch)
            return {
                table: frozenset(c["name"] for c in found.get_columns(table))
                for table in found.get_table_names()
                if table != migrations.version_table
            }
    finally:
        engine.dispose()


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Drop `logger`'s records from this thread meanwhile: the scratch replay's "Running
    upgrade ..." lines would read as if the real database were migrated. Other threads' lines
    (a real upgrade elsewhere in the process) still pass."""
    thread = threading.get_ident()

    def other_threads(record: logging.LogRecord) -> bool:
        return record.thread != thread

    logger.addFilter(other_threads)
    try:
        yield
    finally:
        logger.removeFilter(other_threads)

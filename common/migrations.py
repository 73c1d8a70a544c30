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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

# One INFO line per loaded plugin at every start says nothing; "Running upgrade ..." stays.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


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

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the database to `revision` (default: head), under the migration lock."""
        with engine.begin() as connection:
            self._lock(connection)
            config = self.config(connection)
            self._adopt_previous_release(connection, config)
            before = self.current(connection)
            command.upgrade(config, revision)
            after = self.current(connection)
        if before != after:
            log.info("%s: database schema migrated from %s to %s", self.name,
                     before or "empty", after)

    def downgrade(self, engine: Engine, revision: str) -> None:
        """Take the database back to `revision` (e.g. "-1"), for a rollback of the software."""
        with engine.begin() as connection:
            self._lock(connection)
            command.downgrade(self.config(connection), revision)

    def migrate_to(self, engine: Engine, revision: str) -> str | None:
        """Upgrade or downgrade to `revision`: the step an A/B rollback runs with the NEW
        software before the old one starts (the old one knows no newer revision). Returns the
        revision the database is at afterwards."""
        with engine.connect() as connection:
            now = self.current(connection)
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

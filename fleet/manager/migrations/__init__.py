"""Alembic migrations of the registry, applied by every manager at start.

The registry has its own metadata (`models.REGISTRY_METADATA`) and its own version table, so it
can share a PostgreSQL database with other services. A database made by the release before
migrations (tables from `create_all`, no version table) is recognised and stamped with the
baseline revision, whose schema is exactly what that release created, then upgraded.

Two managers starting at once on one database must not both migrate: the whole upgrade runs in
one write transaction, which on SQLite is `BEGIN IMMEDIATE` (the second manager waits, then
finds the database at head) and on PostgreSQL holds a transaction-level advisory lock; DDL is
transactional on both, so a failed upgrade leaves the database as it was.
"""

from __future__ import annotations

from pathlib import Path

from common.migrations import Migrations
from fleet.manager.db import Database

VERSION_TABLE = "fleet_alembic_version"
#: The schema the release before migrations created (commit fea8c34).
BASELINE = "0001"

MIGRATIONS = Migrations(
    name="fleet registry",
    script_location=Path(__file__).parent,
    baseline=BASELINE,
    baseline_marker_table="fleet_device",
    pg_lock_key=0x68727373_666C74,  # "hrss" "flt"
    version_table=VERSION_TABLE,
)
head = MIGRATIONS.head
current = MIGRATIONS.current


def upgrade(db: Database, revision: str = "head") -> None:
    MIGRATIONS.upgrade(db.write, revision)


def downgrade(db: Database, revision: str) -> None:
    MIGRATIONS.downgrade(db.write, revision)

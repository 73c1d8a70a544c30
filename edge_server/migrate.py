"""The edge's schema, through its Alembic migrations (edge_server/migrations/), applied at start
by `common.migrations` (one transaction under the migration lock; a database made by release
0.1.0, `create_all` and no alembic_version, is adopted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from common.migrations import Migrations, render_utc_type

# The revision whose schema release 0.1.0's create_all made.
RELEASE_0_1_0 = "0001"

MIGRATIONS = Migrations(
    name="edge",
    script_location=Path(__file__).with_name("migrations"),
    baseline=RELEASE_0_1_0,
    baseline_marker_table="service_session",
    pg_lock_key=0x68727373_65646765,  # "hrssedge"
)


def target_metadata() -> MetaData:
    """The models' metadata: explicit, and filtered to the edge's tables by `include_name`."""
    from sqlmodel import SQLModel

    from edge_server import models  # noqa: F401 - registers the edge's tables

    return SQLModel.metadata


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    # The SQLModel metadata is shared with other parts' tables when they are imported in the
    # same process (tests, the demo): compare and migrate only the edge's own.
    if type_ == "table":
        from edge_server.models import EDGE_TABLES

        return name in EDGE_TABLES
    return True


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # include_name filters only what is reflected from the database; the metadata's own tables
    # (other parts' SQLModel tables, when imported in the same process) are filtered here.
    del obj, reflected, compare_to
    return include_name(name, type_, None)


# For env.py and for the test that models and migrations agree (an empty autogenerate diff).
COMPARE_OPTIONS: dict[str, Any] = {
    "include_name": include_name,
    "include_object": include_object,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    "render_as_batch": True,
    "compare_type": True,
    "render_item": render_utc_type,
}

head = MIGRATIONS.head
current = MIGRATIONS.current
upgrade = MIGRATIONS.upgrade
downgrade = MIGRATIONS.downgrade
migrate_to = MIGRATIONS.migrate_to

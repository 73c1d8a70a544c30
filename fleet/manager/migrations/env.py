"""Alembic environment of the fleet registry (run through fleet.manager.migrations)."""

from __future__ import annotations

from typing import Any

from alembic import context

from common.migrations import render_utc_type
from fleet.manager.migrations import VERSION_TABLE
from fleet.manager.models import REGISTRY_METADATA

_OPTIONS: dict[str, Any] = {
    "target_metadata": REGISTRY_METADATA,
    "version_table": VERSION_TABLE,
    "render_as_batch": True,  # SQLite halls: ALTER through table copies where needed
    "compare_type": True,
    "render_item": render_utc_type,
}

connection = context.config.attributes.get("connection")
if connection is None:
    # `alembic upgrade --sql`: SQL for a database administrator to review.
    context.configure(url=context.config.get_main_option("sqlalchemy.url"),
                      literal_binds=True, **_OPTIONS)
else:
    context.configure(connection=connection, **_OPTIONS)
with context.begin_transaction():
    context.run_migrations()

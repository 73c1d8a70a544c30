"""Alembic environment of the edge server's database (house-style 2).

Run in code by edge_server/migrate.py, which hands over a connection already inside the
transaction that holds the migration lock; the URL is never read from an .ini file.
"""

from __future__ import annotations

from alembic import context

from edge_server.migrate import COMPARE_OPTIONS, target_metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the edge's migrations through edge_server.migrate")
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        **COMPARE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported for the edge")
run_migrations()

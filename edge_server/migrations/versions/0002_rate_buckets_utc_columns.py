"""Identify rate limits (rate_limit.py), and time columns that say they are UTC.

- `rate_bucket`: one token bucket per device and one for the hall.
- PostgreSQL only: release 0.1.0 stored UTC in `timestamp without time zone`; the columns
  become `timestamp with time zone`, read as UTC (the values do not change). SQLite has one
  DATETIME affinity for both: nothing to do there.

Downgrading undoes both: release 0.1.0 then runs on the database as it was (an A/B rollback
must not strand it); the buckets refill as if new.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.sqlite

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_COLUMNS = {
    "audit_log": ("at",),
    "citizen_cache": ("as_of", "fetched_at"),
    "idempotency_record": ("created_at",),
    "service_session": ("created_at", "expires_at", "ended_at"),
}


def _retype_utc_columns(*, timezone: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    target = "timestamp with time zone" if timezone else "timestamp without time zone"
    for table, columns in UTC_COLUMNS.items():
        for column in columns:
            # AT TIME ZONE 'UTC' both ways: naive values are UTC, aware ones are read in UTC.
            op.execute(
                f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {target} '
                f"USING \"{column}\" AT TIME ZONE 'UTC'"
            )


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    _retype_utc_columns(timezone=True)


def downgrade() -> None:
    _retype_utc_columns(timezone=False)
    op.drop_table("rate_bucket")

"""Field mode: trips and their sealed rosters of pensioners due (issue 7).

- `field_trip`: one trip per village prepared on this (field) edge, with its expiry.
- `field_roster`: one sealed row per pensioner due on a trip (ID, person record, template).

Downgrading drops them: a roster is a download, prepared again from central.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.sqlite

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "field_trip",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("village", sa.String(length=16), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("as_of", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("created_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("expires_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_field_trip_village", "field_trip", ["village"])
    op.create_index("ix_field_trip_expires_at", "field_trip", ["expires_at"])
    op.create_table(
        "field_roster",
        sa.Column("trip_id", sa.String(length=40), nullable=False),
        sa.Column("citizen_key", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("trip_id", "citizen_key"),
    )
    op.create_index("ix_field_roster_citizen_key", "field_roster", ["citizen_key"])
    op.create_index("ix_field_roster_expires_at", "field_roster", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_field_roster_expires_at", table_name="field_roster")
    op.drop_index("ix_field_roster_citizen_key", table_name="field_roster")
    op.drop_table("field_roster")
    op.drop_index("ix_field_trip_expires_at", table_name="field_trip")
    op.drop_index("ix_field_trip_village", table_name="field_trip")
    op.drop_table("field_trip")

"""A death of a session not yet born here is kept aside (pending_death_seq, _reason).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fleet_device") as batch:
        batch.add_column(sa.Column("pending_death_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("pending_death_reason", sqlmodel.sql.sqltypes.AutoString(),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fleet_device") as batch:
        batch.drop_column("pending_death_reason")
        batch.drop_column("pending_death_seq")

"""Desired and reported configuration per terminal (set-config).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import common.sqlite

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_UTC = common.sqlite.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "fleet_device_config",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("desired", sa.JSON(), nullable=False),
        sa.Column("desired_at", _UTC(), nullable=True),
        sa.Column("command_id", sa.String(64), nullable=True),
        sa.Column("reported_revision", sa.BigInteger(), nullable=True),
        sa.Column("reported", sa.JSON(), nullable=True),
        sa.Column("reported_at", _UTC(), nullable=True),
        sa.Column("refused", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("device_id"),
    )


def downgrade() -> None:
    op.drop_table("fleet_device_config")

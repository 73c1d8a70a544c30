"""Jobs (the newest hrss.job/1 per job), device labels, rollouts and their targets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import common.sqlite

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_UTC = common.sqlite.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "fleet_job",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("update", sa.BigInteger(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("error", _STR(), nullable=False),
        sa.Column("ts", _UTC(), nullable=False),
        sa.Column("recorded_at", _UTC(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "job_id"),
    )
    op.create_table(
        "fleet_device_labels",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(128), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("updated_at", _UTC(), nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_fleet_device_labels_region", "fleet_device_labels", ["region"])
    op.create_table(
        "fleet_rollout",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(512), nullable=True),
        sa.Column("group_index", sa.Integer(), nullable=False),
        sa.Column("group_started_at", _UTC(), nullable=True),
        sa.Column("groups", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _UTC(), nullable=False),
        sa.Column("updated_at", _UTC(), nullable=False),
        sa.Column("finished_at", _UTC(), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_fleet_rollout_idempotency"),
    )
    op.create_index("ix_fleet_rollout_state", "fleet_rollout", ["state"])
    op.create_table(
        "fleet_rollout_target",
        sa.Column("rollout_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("group_index", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("not_before", _UTC(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.String(64), nullable=True),
        sa.Column("rollback_command_id", sa.String(64), nullable=True),
        sa.Column("cancel_command_id", sa.String(64), nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
        sa.Column("updated_at", _UTC(), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "device_id"),
    )
    op.create_index("ix_fleet_rollout_target_state", "fleet_rollout_target",
                    ["rollout_id", "state"])
    op.create_index("ix_fleet_rollout_target_device", "fleet_rollout_target", ["device_id"])


def downgrade() -> None:
    op.drop_table("fleet_rollout_target")
    op.drop_table("fleet_rollout")
    op.drop_table("fleet_device_labels")
    op.drop_table("fleet_job")

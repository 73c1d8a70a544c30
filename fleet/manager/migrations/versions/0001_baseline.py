"""Baseline: the registry as the release before migrations created it (create_all, fea8c34).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import common.sqlite

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString
_UTC = common.sqlite.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "fleet_device",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site", _STR(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("presence_seq", sa.BigInteger(), nullable=False),
        sa.Column("presence_kind", sa.Integer(), nullable=False),
        sa.Column("presence_reason", _STR(), nullable=True),
        sa.Column("presence_at", _UTC(), nullable=True),
        sa.Column("first_seen", _UTC(), nullable=False),
        sa.Column("last_seen", _UTC(), nullable=False),
        sa.Column("birth_seq", sa.BigInteger(), nullable=True),
        sa.Column("app_version", _STR(), nullable=True),
        sa.Column("agent_version", _STR(), nullable=True),
        sa.Column("hostname", _STR(), nullable=True),
        sa.Column("health_interval_s", sa.Float(), nullable=True),
        sa.Column("health_session_seq", sa.BigInteger(), nullable=True),
        sa.Column("health_seq", sa.BigInteger(), nullable=True),
        sa.Column("health_ts", _UTC(), nullable=True),
        sa.Column("health", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fleet_device_online_last_seen", "fleet_device", ["online", "last_seen"])
    op.create_index("ix_fleet_device_site", "fleet_device", ["site"])
    op.create_table(
        "fleet_presence_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", _STR(), nullable=False),
        sa.Column("session_seq", sa.BigInteger(), nullable=True),
        sa.Column("reason", _STR(), nullable=True),
        sa.Column("sent_at", _UTC(), nullable=True),
        sa.Column("recorded_at", _UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fleet_presence_event_device", "fleet_presence_event",
                    ["device_id", "id"])
    op.create_table(
        "fleet_health_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("session_seq", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", _UTC(), nullable=False),
        sa.Column("recorded_at", _UTC(), nullable=False),
        sa.Column("health", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fleet_health_sample_device_ts", "fleet_health_sample",
                    ["device_id", "ts"])
    op.create_table(
        "fleet_command",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("name", _STR(), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("status", _STR(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", _STR(), nullable=False),
        sa.Column("issued_at", _UTC(), nullable=False),
        sa.Column("expires_at", _UTC(), nullable=False),
        sa.Column("sent_at", _UTC(), nullable=True),
        sa.Column("answered_at", _UTC(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "idempotency_key", name="uq_fleet_command_idempotency"),
    )
    op.create_index("ix_fleet_command_device_status", "fleet_command", ["device_id", "status"])
    op.create_index("ix_fleet_command_status_expires", "fleet_command", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_table("fleet_command")
    op.drop_table("fleet_health_sample")
    op.drop_table("fleet_presence_event")
    op.drop_table("fleet_device")

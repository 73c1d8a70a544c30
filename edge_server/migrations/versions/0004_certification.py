"""Pension qualification certification (issue 7): sealed liveness evidence with its retention
deadline, and the local record of each certification (edge_server/certification/tables.py).

Downgrading drops them: release 0.3's edge has no certification (the records' outbox items
stay in the outbox and are still delivered; the evidence goes with the tables).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.sqlite

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certification_evidence",
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("citizen_key", sa.String(length=64), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("purge_after", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("receipt_no"),
    )
    op.create_index("ix_certification_evidence_citizen_key", "certification_evidence",
                    ["citizen_key"])
    op.create_index("ix_certification_evidence_purge_after", "certification_evidence",
                    ["purge_after"])
    op.create_table(
        "certification_record",
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("citizen_key", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=True),
        sa.Column("certified_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("liveness_version", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("receipt_no"),
    )
    op.create_index("ix_certification_record_citizen_key", "certification_record",
                    ["citizen_key"])


def downgrade() -> None:
    op.drop_index("ix_certification_record_citizen_key", table_name="certification_record")
    op.drop_table("certification_record")
    op.drop_index("ix_certification_evidence_purge_after", table_name="certification_evidence")
    op.drop_index("ix_certification_evidence_citizen_key", table_name="certification_evidence")
    op.drop_table("certification_evidence")

"""Certificates (issue 8): `issued_certificate`, one row per verification code; the content and
the signed PDF sealed with the data key.

Downgrading drops it: issued certificates can no longer be verified by code (their PDFs still
verify by signature).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.sqlite

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issued_certificate",
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("citizen_key", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_bytes", sa.Integer(), nullable=False),
        sa.Column("issued_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("download_sha256", sa.String(length=64), nullable=False),
        sa.Column("download_expires_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("download_sha256"),
    )
    op.create_index("ix_issued_certificate_device_id", "issued_certificate", ["device_id"])
    op.create_index("ix_issued_certificate_citizen_key", "issued_certificate", ["citizen_key"])
    op.create_index("ix_issued_certificate_issued_at", "issued_certificate", ["issued_at"])


def downgrade() -> None:
    op.drop_index("ix_issued_certificate_issued_at", table_name="issued_certificate")
    op.drop_index("ix_issued_certificate_citizen_key", table_name="issued_certificate")
    op.drop_index("ix_issued_certificate_device_id", table_name="issued_certificate")
    op.drop_table("issued_certificate")

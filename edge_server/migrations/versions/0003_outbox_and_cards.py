"""The outbox (submissions to central, sent exactly once), claim guards, the card blacklist and
feed cursors (issue 6).

- `outbox_item`: one submission, sealed, sent in `seq` order; unique per (device,
  Idempotency-Key) so a kiosk's retry finds the same item.
- `claim_guard`: one application per (citizen, subsidy, period) across kiosks.
- `card_block`: cards refused offline (central's blacklist feed, pending local loss reports).
- `sync_cursor`: where a pulled feed stopped.

Downgrading drops them (release 0.2's edge has no outbox: pending items would be lost, so an A/B
rollback must drain the outbox first; docs/outbox.md says so).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.sqlite

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_item",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("submission_key", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("citizen_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("lease_until", common.sqlite.UtcDateTime(), nullable=True),
        sa.Column("created_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("sent_at", common.sqlite.UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("dead_code", sa.String(length=64), nullable=True),
        sa.Column("dead_reason", sa.String(length=500), nullable=True),
        sa.Column("retry_of", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("device_id", "idempotency_key", name="uq_outbox_item_device_key"),
        sa.UniqueConstraint("receipt_no"),
        sa.UniqueConstraint("submission_key"),
    )
    op.create_index("ix_outbox_item_citizen_key", "outbox_item", ["citizen_key"])
    op.create_index("ix_outbox_item_state_seq", "outbox_item", ["state", "seq"])
    op.create_index("ix_outbox_item_retry_of", "outbox_item", ["retry_of"])
    op.create_table(
        "claim_guard",
        sa.Column("citizen_key", sa.String(length=64), nullable=False),
        sa.Column("subsidy", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("created_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("citizen_key", "subsidy", "period"),
    )
    op.create_table(
        "card_block",
        sa.Column("card_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("changed_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.Column("updated_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("card_key"),
    )
    op.create_table(
        "sync_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=False),
        sa.Column("updated_at", common.sqlite.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("sync_cursor")
    op.drop_table("card_block")
    op.drop_table("claim_guard")
    op.drop_index("ix_outbox_item_retry_of", table_name="outbox_item")
    op.drop_index("ix_outbox_item_state_seq", table_name="outbox_item")
    op.drop_index("ix_outbox_item_citizen_key", table_name="outbox_item")
    op.drop_table("outbox_item")

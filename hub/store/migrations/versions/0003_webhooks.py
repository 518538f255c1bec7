"""Diffusers' webhooks: where each one notifies, its signing secret, and where deliveries stand.

Revision ID: 0003
Revises: 0002
Create Date: 2026-06-03

Adds the `webhooks` table of `consumers.webhooks.sql`: one row per diffuser with its URL, its secret
(kept as is: the dispatcher signs with it), the `seq` of the last feed entry its receiver
acknowledged, its state (active or parked), its consecutive failures, last error and last attempt.

Frozen, like 0001: it names every table, column, index and constraint itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("diffuser_id", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('active', 'parked')", name=op.f("ck_webhooks_state_known")),
        sa.CheckConstraint(
            "delivered_seq >= 0", name=op.f("ck_webhooks_delivered_seq_not_negative")
        ),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_webhooks_failures_not_negative")),
        sa.PrimaryKeyConstraint("diffuser_id", name="pk_webhooks"),
    )


def downgrade() -> None:
    op.drop_table("webhooks")

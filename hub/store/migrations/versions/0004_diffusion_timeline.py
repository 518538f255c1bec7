"""The diffusion stage's timeline: one row per offer, so a restart does not read the history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Adds `diffusion_timeline` (`consumers.feeds.sql`): per offer, the partition it lives on, the version
and encoded bytes of its latest regional change, when that change was last evaluated, and the ticks
waiting for a later version (JSON list of hex-encoded tick records). A feed database migrated from
0003 has no rows: the diffusion stage then reads its timeline from the topics once, as before.

Frozen, like 0001: it names every table, column, index and constraint itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "diffusion_timeline",
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.LargeBinary(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", name="pk_diffusion_timeline"),
    )
    op.create_index(
        "ix_diffusion_timeline_partition", "diffusion_timeline", ["partition"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_diffusion_timeline_partition", table_name="diffusion_timeline")
    op.drop_table("diffusion_timeline")

"""Rejections keep when the hub judged them, so "rejections in the last 24 hours" means that.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Adds the nullable `judged_at` to `rejections` (the time of the rejection's record on
`sitn.rejections`, which the collection stage writes as it judges), with an index. Rows stored
before keep NULL and count by their event time. Downgrade drops the column.

Frozen, like 0001: it names its column and index itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rejections") as batch:
        batch.add_column(sa.Column("judged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_rejections_judged_at", "rejections", ["judged_at"])


def downgrade() -> None:
    op.drop_index("ix_rejections_judged_at", table_name="rejections")
    with op.batch_alter_table("rejections") as batch:
        batch.drop_column("judged_at")

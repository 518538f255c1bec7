"""API keys can be revoked: a revoked key stays in the table, marked, and opens nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-15

Adds the nullable `created_at` and `revoked_at` to `api_keys`. Keys stored before keep NULL in
both: they are in force, of unknown age. Downgrade deletes the revoked keys first (0006 has no
way to mark them, and a revoked key must not work again), then drops the two columns.

Frozen, like 0001: it names its columns itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_keys WHERE revoked_at IS NOT NULL"))
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("created_at")

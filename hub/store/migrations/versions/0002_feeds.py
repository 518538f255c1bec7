"""Diffusion feeds and API keys; rejections numbered in the order they were recorded.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-27

Adds the tables of `consumers.feeds.sql` (feed entries, each offer's last entry per feed, the
diffusion processor's consumed positions, hashed API keys) and a `seq` column to `rejections`, the
cursor of the contributors' rejections feed. Rejections stored before this revision are numbered in
the order the store lists them oldest first (event time, then event id and rule ids), the closest
the database can tell to the order they were recorded in.

Frozen, like 0001: it names every table, column, index and constraint itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _number_existing_rejections() -> None:
    connection = op.get_bind()
    keys = connection.execute(
        sa.text(
            "SELECT event_id, rule_ids FROM rejections ORDER BY occurred_at, event_id, rule_ids"
        )
    ).all()
    if keys:
        connection.execute(
            sa.text("UPDATE rejections SET seq = :seq WHERE event_id = :e AND rule_ids = :r"),
            [{"seq": seq, "e": e, "r": r} for seq, (e, r) in enumerate(keys, start=1)],
        )


def upgrade() -> None:
    op.add_column("rejections", sa.Column("seq", sa.BigInteger(), nullable=True))
    _number_existing_rejections()
    with op.batch_alter_table("rejections") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
    op.create_index("ix_rejections_seq", "rejections", ["seq"], unique=True)
    op.create_index("ix_rejections_contributor_seq", "rejections", ["contributor", "seq"])

    op.create_table(
        "feed_entries",
        sa.Column("diffuser_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("offer_type", sa.String(length=3), nullable=True),
        sa.Column("view_json", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_feed_entries_seq_positive")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_feed_entries_version_positive")),
        sa.PrimaryKeyConstraint("diffuser_id", "seq", name="pk_feed_entries"),
    )
    op.create_index(
        "ix_feed_entries_diffuser_offer_version",
        "feed_entries",
        ["diffuser_id", "offer_id", "version"],
    )

    op.create_table(
        "feed_offers",
        sa.Column("diffuser_id", sa.String(), nullable=False),
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("diffuser_id", "offer_id", name="pk_feed_offers"),
    )
    op.create_index(
        "ix_feed_offers_diffuser_kind_seq", "feed_offers", ["diffuser_id", "kind", "seq"]
    )

    op.create_table(
        "feed_positions",
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "next_offset >= 0", name=op.f("ck_feed_positions_next_offset_not_negative")
        ),
        sa.PrimaryKeyConstraint("topic", "partition", name="pk_feed_positions"),
    )

    op.create_table(
        "api_keys",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=False),
        sa.CheckConstraint(
            "owner_kind IN ('diffuser', 'contributor')", name=op.f("ck_api_keys_owner_kind_known")
        ),
        sa.PrimaryKeyConstraint("key_hash", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_owner", "api_keys", ["owner_kind", "owner_id"])


def downgrade() -> None:
    for table in ("api_keys", "feed_positions", "feed_offers", "feed_entries"):
        op.drop_table(table)
    op.drop_index("ix_rejections_contributor_seq", table_name="rejections")
    op.drop_index("ix_rejections_seq", table_name="rejections")
    with op.batch_alter_table("rejections") as batch:
        batch.drop_column("seq")

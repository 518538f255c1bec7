"""The store's first schema: offers, private block, provenance, history, rejections, customer data.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

Frozen: it names every table, column, index and constraint itself (names follow the naming
convention of `hub.store.schema`; `op.f` marks a name as final so the convention is not applied
twice), so later changes to the metadata need a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk_to_offers(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["offer_id"],
        ["offers.offer_id"],
        name=f"fk_{table}_offer_id_offers",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("offer_type", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("commune_insee", sa.String(length=5), nullable=True),
        sa.Column("public_json", sa.Text(), nullable=False),
        sa.Column("contributor_versions", sa.Text(), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_offers_version_positive")),
        sa.PrimaryKeyConstraint("offer_id", name="pk_offers"),
    )
    for column in ("offer_type", "status", "version", "department", "commune_insee"):
        op.create_index(f"ix_offers_{column}", "offers", [column])
    op.create_index(
        "ix_offers_type_department_status", "offers", ["offer_type", "department", "status"]
    )

    op.create_table(
        "offer_private",
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("private_json", sa.Text(), nullable=False),
        _fk_to_offers("offer_private"),
        sa.PrimaryKeyConstraint("offer_id", name="pk_offer_private"),
    )

    op.create_table(
        "offer_provenance",
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("group", sa.String(length=32), nullable=False),
        sa.Column("contributor", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("source_version", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authority", sa.String(), nullable=False),
        _fk_to_offers("offer_provenance"),
        sa.PrimaryKeyConstraint("offer_id", "group", name="pk_offer_provenance"),
    )

    op.create_table(
        "offer_versions",
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("contributor", sa.String(), nullable=False),
        sa.Column("source_version", sa.BigInteger(), nullable=False),
        sa.Column("changed_groups", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _fk_to_offers("offer_versions"),
        sa.PrimaryKeyConstraint("offer_id", "version", name="pk_offer_versions"),
    )
    op.create_index("ix_offer_versions_event_id", "offer_versions", ["event_id"])
    op.create_index("ix_offer_versions_contributor", "offer_versions", ["contributor"])

    op.create_table(
        "rejections",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("rule_ids", sa.Text(), nullable=False),
        sa.Column("contributor", sa.String(), nullable=False),
        sa.Column("offer_id", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("field_groups", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "rule_ids", name="pk_rejections"),
    )
    for column in ("contributor", "offer_id", "occurred_at"):
        op.create_index(f"ix_rejections_{column}", "rejections", [column])

    op.create_table(
        "customer_data",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("collector", sa.String(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("consent_marketing", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_customer_data"),
    )
    op.create_index("ix_customer_data_collector", "customer_data", ["collector"])

    op.create_table(
        "consumed_positions",
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "next_offset >= 0", name=op.f("ck_consumed_positions_next_offset_not_negative")
        ),
        sa.PrimaryKeyConstraint("topic", "partition", name="pk_consumed_positions"),
    )


def downgrade() -> None:
    # Children before parents, for the foreign keys.
    for table in (
        "consumed_positions",
        "customer_data",
        "rejections",
        "offer_versions",
        "offer_provenance",
        "offer_private",
        "offers",
    ):
        op.drop_table(table)

"""Feed entries numbered per (diffuser, offer partition), so diffusion instances write unlocked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Adds `partition` (the offer's partition: murmur2 of its id over the 6 offer partitions) to
`feed_entries` (whose primary key becomes diffuser, partition, seq) and to `feed_offers`, and the
`feed_heads` table: each (diffuser, partition)'s last number. Entries stored before keep their
numbers, which were one count per feed across partitions; every partition of a feed that has
entries then goes on from the feed's last number, so a cursor handed out before, one number N,
reads as "every partition at N" and stands exactly where it did (`consumers.feeds.cursor`). A
webhook's `delivered_seq` becomes `delivered_cursor`, the same number as text.

Downgrade numbers each feed's entries again in one count, by (seq, partition), and a webhook
whose cursor is not one number goes back to 0 (its receiver gets the feed again: at least once).

Frozen, like 0001: it names every table, column, index and constraint itself, and computes the
partition with its own constants.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from aiokafka.partitioner import murmur2
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTITIONS = 6


def _partition(offer_id: str) -> int:
    return int((murmur2(offer_id.encode()) & 0x7FFFFFFF) % _PARTITIONS)


def _fill_partitions(table: str) -> None:
    connection = op.get_bind()
    query = f"SELECT DISTINCT offer_id FROM {table}"  # noqa: S608 (a constant name)
    offers = connection.execute(sa.text(query)).scalars().all()
    if offers:
        connection.execute(
            sa.text(f"UPDATE {table} SET partition = :p WHERE offer_id = :o"),  # noqa: S608
            [{"p": _partition(offer_id), "o": offer_id} for offer_id in offers],
        )


def upgrade() -> None:
    op.add_column("feed_entries", sa.Column("partition", sa.Integer(), nullable=True))
    op.add_column("feed_offers", sa.Column("partition", sa.Integer(), nullable=True))
    _fill_partitions("feed_entries")
    _fill_partitions("feed_offers")
    with op.batch_alter_table("feed_entries", recreate="auto") as batch:
        batch.alter_column("partition", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint("pk_feed_entries", type_="primary")
        batch.create_primary_key("pk_feed_entries", ["diffuser_id", "partition", "seq"])
    with op.batch_alter_table("feed_offers") as batch:
        batch.alter_column("partition", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_feed_offers_diffuser_kind_seq", table_name="feed_offers")
    op.create_index(
        "ix_feed_offers_diffuser_kind_partition_seq",
        "feed_offers",
        ["diffuser_id", "kind", "partition", "seq"],
    )
    op.create_table(
        "feed_heads",
        sa.Column("diffuser_id", sa.String(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_feed_heads_seq_not_negative")),
        sa.PrimaryKeyConstraint("diffuser_id", "partition", name="pk_feed_heads"),
    )
    connection = op.get_bind()
    lasts = connection.execute(
        sa.text("SELECT diffuser_id, MAX(seq) FROM feed_entries GROUP BY diffuser_id")
    ).all()
    if lasts:
        connection.execute(
            sa.text("INSERT INTO feed_heads (diffuser_id, partition, seq) VALUES (:d, :p, :s)"),
            [
                {"d": diffuser_id, "p": p, "s": int(last)}
                for diffuser_id, last in lasts
                for p in range(_PARTITIONS)
            ],
        )
    op.add_column("webhooks", sa.Column("delivered_cursor", sa.String(), nullable=True))
    hooks = connection.execute(sa.text("SELECT diffuser_id, delivered_seq FROM webhooks")).all()
    if hooks:
        connection.execute(
            sa.text("UPDATE webhooks SET delivered_cursor = :c WHERE diffuser_id = :d"),
            [{"c": str(int(seq)), "d": diffuser_id} for diffuser_id, seq in hooks],
        )
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("delivered_cursor", existing_type=sa.String(), nullable=False)
        batch.drop_constraint(op.f("ck_webhooks_delivered_seq_not_negative"), type_="check")
        batch.drop_column("delivered_seq")


def _one_count_again() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT diffuser_id, partition, seq, offer_id FROM feed_entries"
            " ORDER BY diffuser_id, seq, partition"
        )
    ).all()
    # Negative first, so no new number meets an old one of another partition on the way.
    numbered: list[dict[str, object]] = []
    count: dict[str, int] = {}
    for diffuser_id, partition, seq, _ in rows:
        count[diffuser_id] = count.get(diffuser_id, 0) + 1
        numbered.append({"d": diffuser_id, "p": partition, "s": seq, "n": -count[diffuser_id]})
    if numbered:
        for table in ("feed_entries", "feed_offers"):
            connection.execute(
                sa.text(
                    f"UPDATE {table} SET seq = :n"  # noqa: S608 (a constant name)
                    " WHERE diffuser_id = :d AND partition = :p AND seq = :s"
                ),
                numbered,
            )
            back = f"UPDATE {table} SET seq = -seq WHERE seq < 0"  # noqa: S608 (a constant name)
            connection.execute(sa.text(back))


def downgrade() -> None:
    op.add_column("webhooks", sa.Column("delivered_seq", sa.BigInteger(), nullable=True))
    connection = op.get_bind()
    hooks = connection.execute(sa.text("SELECT diffuser_id, delivered_cursor FROM webhooks")).all()
    if hooks:
        connection.execute(
            sa.text("UPDATE webhooks SET delivered_seq = :s WHERE diffuser_id = :d"),
            [
                {"s": int(cursor) if cursor.isdigit() else 0, "d": diffuser_id}
                for diffuser_id, cursor in hooks
            ],
        )
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("delivered_seq", existing_type=sa.BigInteger(), nullable=False)
        batch.create_check_constraint(
            op.f("ck_webhooks_delivered_seq_not_negative"), "delivered_seq >= 0"
        )
        batch.drop_column("delivered_cursor")
    op.drop_table("feed_heads")
    with op.batch_alter_table("feed_entries", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_feed_entries_seq_positive"), type_="check")
    _one_count_again()
    with op.batch_alter_table("feed_entries", recreate="auto") as batch:
        batch.create_check_constraint(op.f("ck_feed_entries_seq_positive"), "seq >= 1")
        batch.drop_constraint("pk_feed_entries", type_="primary")
        batch.create_primary_key("pk_feed_entries", ["diffuser_id", "seq"])
        batch.drop_column("partition")
    op.drop_index("ix_feed_offers_diffuser_kind_partition_seq", table_name="feed_offers")
    op.create_index(
        "ix_feed_offers_diffuser_kind_seq", "feed_offers", ["diffuser_id", "kind", "seq"]
    )
    with op.batch_alter_table("feed_offers") as batch:
        batch.drop_column("partition")

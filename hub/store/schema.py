"""The SQL store's tables, as SQLAlchemy Core metadata (the reference the migrations must match).

The schema is created only by the alembic migrations in `hub/store/migrations`; this metadata is
what the code queries and what a test compares the migrated database with (no difference allowed).
Public state, private block and customer data live in separate tables so that a query for public
data cannot read private data by accident. JSON is stored as text (canonical, see
`hub.store.projection.canonical_json`) so SQLite and PostgreSQL hold the very same bytes.
Times are stored in UTC (`UtcDateTime`) and read back as aware UTC datetimes.
The diffusion feeds and API keys (`consumers.feeds.sql`) and the diffusers' webhooks
(`consumers.webhooks.sql`) live in the same database, so their tables are here too and come with the
same migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC (SQLite keeps no offset) and read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"{value.isoformat()} has no UTC offset; the store keeps aware times")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

offers = Table(
    "offers",
    metadata,
    Column("offer_id", String, primary_key=True),
    Column("offer_type", String(3), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("version", Integer, nullable=False, index=True),
    Column("department", String(3), nullable=True, index=True),
    Column("commune_insee", String(5), nullable=True, index=True),
    Column("public_json", Text, nullable=False),
    # JSON list of [contributor, last source version]: the collection rules' memory (rule 5).
    Column("contributor_versions", Text, nullable=False),
    CheckConstraint("version >= 1", name="version_positive"),
)

offer_private = Table(
    "offer_private",
    metadata,
    Column(
        "offer_id",
        String,
        ForeignKey("offers.offer_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("private_json", Text, nullable=False),
)

offer_provenance = Table(
    "offer_provenance",
    metadata,
    Column("offer_id", String, ForeignKey("offers.offer_id", ondelete="CASCADE"), nullable=False),
    Column("group", String(32), nullable=False),
    Column("contributor", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("source_version", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("authority", String, nullable=False),
    PrimaryKeyConstraint("offer_id", "group"),
)

offer_versions = Table(
    "offer_versions",
    metadata,
    Column("offer_id", String, ForeignKey("offers.offer_id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", String, nullable=False, index=True),
    Column("contributor", String, nullable=False, index=True),
    Column("source_version", BigInteger, nullable=False),
    Column("changed_groups", Text, nullable=False),  # JSON list of group names
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    PrimaryKeyConstraint("offer_id", "version"),
)

rejections = Table(
    "rejections",
    metadata,
    Column("event_id", String, nullable=False),
    Column("rule_ids", Text, nullable=False),  # JSON list; with event_id, the identity
    Column("contributor", String, nullable=False, index=True),
    Column("offer_id", String, nullable=False, index=True),
    Column("occurred_at", UtcDateTime, nullable=False, index=True),
    Column("message", Text, nullable=False),
    Column("field_groups", Text, nullable=False),  # JSON list of group names
    # The order rejections were first recorded in (1, 2, ...): the contributors' feed cursor.
    Column("seq", BigInteger, nullable=False),
    # When the hub judged it (its record's time); NULL for rows stored before migration 0006.
    Column("judged_at", UtcDateTime, nullable=True, index=True),
    PrimaryKeyConstraint("event_id", "rule_ids"),
)

customer_data = Table(
    "customer_data",
    metadata,
    Column("event_id", String, primary_key=True),
    Column("collector", String, nullable=False, index=True),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("full_name", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("phone", Text, nullable=True),
    Column("postal_code", String(16), nullable=True),
    Column("message", Text, nullable=True),
    Column("consent_marketing", Boolean, nullable=False),
)

consumed_positions = Table(
    "consumed_positions",
    metadata,
    Column("topic", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("topic", "partition"),
    CheckConstraint("next_offset >= 0", name="next_offset_not_negative"),
)

# Counting offers per (type, department, status) is what operators and the dashboard ask most.
Index("ix_offers_type_department_status", offers.c.offer_type, offers.c.department, offers.c.status)
Index("ix_rejections_seq", rejections.c.seq, unique=True)
Index("ix_rejections_contributor_seq", rejections.c.contributor, rejections.c.seq)

# ---------------------------------------------------------------- diffusion feeds (consumers.feeds)

# Every entry of every diffuser's feed, numbered per (diffuser, offer partition) (1, 2, ...), so
# writers of different partitions never wait on each other (consumers.feeds.cursor).
feed_entries = Table(
    "feed_entries",
    metadata,
    Column("diffuser_id", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("offer_id", String, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("offer_type", String(3), nullable=True),  # None on a removal
    Column("view_json", Text, nullable=True),  # canonical JSON of the view; None on a removal
    Column("occurred_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("diffuser_id", "partition", "seq"),
    CheckConstraint("seq >= 1", name="seq_positive"),
    CheckConstraint("version >= 1", name="version_positive"),
)
Index(
    "ix_feed_entries_diffuser_offer_version",
    feed_entries.c.diffuser_id,
    feed_entries.c.offer_id,
    feed_entries.c.version,
)

# Each offer's last entry in each feed: what `current` and `snapshot` read, and the point a
# feed never goes back from.
feed_offers = Table(
    "feed_offers",
    metadata,
    Column("diffuser_id", String, nullable=False),
    Column("offer_id", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    PrimaryKeyConstraint("diffuser_id", "offer_id"),
)
Index(
    "ix_feed_offers_diffuser_kind_partition_seq",
    feed_offers.c.diffuser_id,
    feed_offers.c.kind,
    feed_offers.c.partition,
    feed_offers.c.seq,
)

# Each (diffuser, partition)'s last `seq`: the number an append goes on from, and the row it
# locks (on PostgreSQL) so that two writers of one partition take turns, while writers of
# other partitions go on.
feed_heads = Table(
    "feed_heads",
    metadata,
    Column("diffuser_id", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("diffuser_id", "partition"),
    CheckConstraint("seq >= 0", name="seq_not_negative"),
)

# The diffusion processor's consumed positions (its own, apart from the store projector's).
feed_positions = Table(
    "feed_positions",
    metadata,
    Column("topic", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("topic", "partition"),
    CheckConstraint("next_offset >= 0", name="next_offset_not_negative"),
)

# The diffusion stage's timeline, one row per offer, written with the entries and positions it
# goes with: a restart reads these rows, not the history (consumers.diffusion_projector).
diffusion_timeline = Table(
    "diffusion_timeline",
    metadata,
    Column("offer_id", String, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("change", LargeBinary, nullable=True),
    Column("evaluated_at", UtcDateTime, nullable=True),
    Column("waiting_json", Text, nullable=False),
    PrimaryKeyConstraint("offer_id"),
)
Index("ix_diffusion_timeline_partition", diffusion_timeline.c.partition)

# API keys of diffusers and contributors: only the sha256 of each key (see consumers.feeds.keys).
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("owner_kind", String(16), nullable=False),
    Column("owner_id", String, nullable=False),
    # NULL for keys made before migration 0007.
    Column("created_at", UtcDateTime, nullable=True),
    # Set once, never cleared: a revoked key stays, so the API can say it was revoked.
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("owner_kind IN ('diffuser', 'contributor')", name="owner_kind_known"),
)
Index("ix_api_keys_owner", api_keys.c.owner_kind, api_keys.c.owner_id)

# ---------------------------------------------------------------- webhooks (consumers.webhooks)

# One webhook per diffuser, and where its deliveries stand. The secret is kept as is, not hashed:
# the dispatcher needs it to sign every notification (HMAC), so whoever can read this table can
# forge signatures for that diffuser. It is printed once at creation (`sitn webhook set`) and
# never logged, listed or shown again.
webhooks = Table(
    "webhooks",
    metadata,
    Column("diffuser_id", String, primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", String, nullable=False),
    # The feed cursor (consumers.feeds.cursor, as text) past the last entry the receiver
    # acknowledged.
    Column("delivered_cursor", String, nullable=False),
    Column("state", String(16), nullable=False),
    Column("failures", Integer, nullable=False),  # consecutive failed attempts
    Column("last_error", Text, nullable=True),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    CheckConstraint("state IN ('active', 'parked')", name="state_known"),
    CheckConstraint("failures >= 0", name="failures_not_negative"),
)

# Every table of the store, parents first (the order the tests truncate them in reverse).
TABLES: tuple[Table, ...] = (
    offers,
    offer_private,
    offer_provenance,
    offer_versions,
    rejections,
    customer_data,
    consumed_positions,
    feed_entries,
    feed_offers,
    feed_heads,
    feed_positions,
    diffusion_timeline,
    api_keys,
    webhooks,
)

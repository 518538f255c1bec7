"""The diffusers' feeds: where the entries the diffusion rules emit are kept, and the API keys.

`FeedStore` (in `port`) is the one interface, with two implementations that pass one contract
suite: `InMemoryFeedStore` (plain dicts, for tests) and `SqlFeedStore` (SQLAlchemy Core on the
regional store's database, same migrations). Each append stores its entries and the consumed
Kafka positions in one transaction, is idempotent under redelivery, and never moves an offer
backwards in a feed; each entry gets a sequence number per (diffuser, offer partition), and a
reader's cursor (`cursor.FeedCursor`) holds one per partition. Keys are
kept as hashes only (`keys`), and a revoked key is kept, marked as such. All methods are
synchronous: async code calls them in a thread.
"""

from consumers.feeds.keys import hash_key, key_id, new_key
from consumers.feeds.memory import InMemoryFeedStore
from consumers.feeds.port import (
    ApiKey,
    FeedEntry,
    FeedError,
    FeedStore,
    KeyOwner,
    OwnerKind,
    Positions,
)
from consumers.feeds.sql import SqlFeedStore

__all__ = [
    "ApiKey",
    "FeedEntry",
    "FeedError",
    "FeedStore",
    "InMemoryFeedStore",
    "KeyOwner",
    "OwnerKind",
    "Positions",
    "SqlFeedStore",
    "hash_key",
    "key_id",
    "new_key",
]

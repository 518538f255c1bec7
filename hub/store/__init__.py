"""The regional store: the projection of `sitn.regional.changes` that operators and the API read.

`RegionalStore` (in `port`) is the one interface, with two implementations that pass one contract
suite: `InMemoryStore` (plain dicts, for tests) and `SqlStore` (SQLAlchemy Core on SQLite or
PostgreSQL, schema by alembic migrations). Each write call stores its rows and the consumed
Kafka positions in one transaction, and is idempotent under redelivery; `digest()` gives the same
value for the same content in every implementation. All methods are synchronous: async code
calls them through `asyncio.to_thread`.
"""

from hub.store.memory import InMemoryStore
from hub.store.port import (
    CountKey,
    PositionedDigest,
    Positions,
    RegionalStore,
    SequencedRejection,
    StoredOffer,
    StoredRejection,
    StoreError,
    VersionEntry,
)
from hub.store.sql import SqlStore, downgrade, upgrade

__all__ = [
    "CountKey",
    "InMemoryStore",
    "PositionedDigest",
    "Positions",
    "RegionalStore",
    "SequencedRejection",
    "SqlStore",
    "StoreError",
    "StoredOffer",
    "StoredRejection",
    "VersionEntry",
    "downgrade",
    "upgrade",
]

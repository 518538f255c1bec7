"""`SqlFeedStore`: the diffusers' feeds and the API keys on SQLAlchemy 2 Core (SQLite, PostgreSQL).

Same database and migrations as the regional store (`hub.store.sql`): the tables are
`feed_entries`, `feed_offers` (each offer's last entry per feed), `feed_heads` (each feed's last
number per partition), `feed_positions`,
`diffusion_timeline` (the diffusion stage's per-offer state) and `api_keys` in
`hub.store.schema`. It keeps every promise of `consumers.feeds.port`:

- `append` runs in one transaction that writes the positions, the timeline rows, the entries and
  the offers' last entries, with one SELECT for where the batch's offers stand and executemany
  writes per table.
- Sequence numbers go on from `feed_heads`, one row per (diffuser, offer partition). An append
  first locks the rows of the partitions its entries are on (PostgreSQL: `SELECT ... FOR UPDATE`,
  in key order), so two writers of one partition take turns and number in commit order, while
  writers of other partitions neither lock the table nor wait; a reader's per-partition cursor
  (`consumers.feeds.cursor`) therefore never skips an entry that commits late. On SQLite, which has
  one writer at a time, `BEGIN IMMEDIATE` orders the appends.
- `changes` reads each partition from its cursor (one indexed range each) and interleaves them;
  `snapshot` reads in keyset batches ((partition, seq) past the last one given), one short read
  per batch, and
  holds no connection while the caller consumes a batch (the HTTP API streams it to a client).

Every method is synchronous and blocks on the database: async callers use a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from consumers.feeds.cursor import START, FeedCursor
from consumers.feeds.entries import (
    FeedHead,
    FeedOfferKey,
    admit,
    check_entries,
    check_key,
    check_key_id,
    check_reuse,
    interleave,
    key_order,
)
from consumers.feeds.keys import key_id
from consumers.feeds.port import (
    ApiKey,
    FeedEntry,
    FeedError,
    KeyOwner,
    OwnerKind,
    Positions,
    TimelineRow,
)
from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.offer import OfferFields, OfferType
from hub.msgspec_records import read_json
from hub.store.port import StoreError
from hub.store.positions import read_positions, save_positions
from hub.store.projection import check_positions
from hub.store.schema import (
    api_keys,
    diffusion_timeline,
    feed_entries,
    feed_heads,
    feed_offers,
    feed_positions,
)
from hub.store.sql import create_store_engine, upgrade
from hub.topics import OFFER_PARTITIONS, offer_partition

# Bound parameters per IN list: far below SQLite's (32766) and PostgreSQL's (65535) limits.
_CHUNK: Final = 500

# Entries per snapshot read: small enough to stream, large enough to keep reads few.
SNAPSHOT_BATCH: Final = 500

# Execution option marking a connection that will write (SQLite then begins IMMEDIATE; the
# listener is installed by `hub.store.sql.create_store_engine`).
_WRITE: Final = "sitn_write"


_KEY_COLUMNS: Final = (
    api_keys.c.key_hash,
    api_keys.c.owner_kind,
    api_keys.c.owner_id,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
)


def _key_of(row: Any) -> ApiKey:
    kind: OwnerKind = "diffuser" if row.owner_kind == "diffuser" else "contributor"
    return ApiKey(
        key_id(row.key_hash), KeyOwner(kind, row.owner_id), row.created_at, row.revoked_at
    )


def _in_force_of(owner: KeyOwner) -> ColumnElement[bool]:
    k = api_keys.c
    return and_(k.owner_kind == owner.kind, k.owner_id == owner.owner_id, k.revoked_at.is_(None))


def _revoke(conn: Connection, chosen: ColumnElement[bool], at: datetime) -> list[ApiKey]:
    """Marks the keys `chosen` revoked at `at`, in `conn`'s transaction; gives them back."""
    rows = conn.execute(select(*_KEY_COLUMNS).where(chosen)).all()
    conn.execute(update(api_keys).where(chosen).values(revoked_at=at))
    return sorted((replace(_key_of(row), revoked_at=at) for row in rows), key=key_order)


def _at_last_entry() -> ColumnElement[bool]:
    """How an offer's row in feed_offers joins its last entry in feed_entries."""
    return and_(
        feed_offers.c.diffuser_id == feed_entries.c.diffuser_id,
        feed_offers.c.partition == feed_entries.c.partition,
        feed_offers.c.seq == feed_entries.c.seq,
    )


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _entry_of(row: Any, views: dict[str, OfferFields] | None = None) -> FeedEntry:
    """The entry of a `feed_entries` row; `views` caches decoded views by their JSON text."""
    view: OfferFields | None = None
    if row.view_json is not None:
        view = None if views is None else views.get(row.view_json)
        if view is None:
            view = read_json(OfferFields, row.view_json)
            if views is not None:
                views[row.view_json] = view
    return FeedEntry(
        seq=row.seq,
        change=DiffusionChange(
            diffuser_id=row.diffuser_id,
            offer_id=row.offer_id,
            version=row.version,
            kind=DiffusionKind(row.kind),
            reason=DiffusionReason(row.reason),
            offer_type=None if row.offer_type is None else OfferType(row.offer_type),
            view=view,
            occurred_at=row.occurred_at,
        ),
    )


def _cursor(heads: Iterable[tuple[int, int]]) -> FeedCursor:
    seqs = [0] * OFFER_PARTITIONS
    for partition, seq in heads:
        seqs[partition] = int(seq)
    return FeedCursor(tuple(seqs))


class SqlFeedStore:
    """The feed store in an SQL database. Synchronous: call it from a worker thread.

    `SqlFeedStore(url)` connects lazily; `migrate()` creates or updates the schema (the same
    migrations as `SqlStore`). `close()` (or `with SqlFeedStore(url) as feeds:`) releases the
    connections.
    """

    def __init__(self, url: str | URL) -> None:
        self._engine = create_store_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"

    @property
    def engine(self) -> Engine:
        return self._engine

    def migrate(self) -> None:
        """Creates or updates the schema to the latest migration (idempotent)."""
        upgrade(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlFeedStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writes

    def append(
        self,
        entries: Sequence[DiffusionChange],
        positions: Positions,
        timeline: Sequence[TimelineRow] = (),
    ) -> list[FeedEntry]:
        try:
            check_positions(positions)
        except StoreError as error:
            raise FeedError(str(error)) from None
        checked = check_entries(entries)
        partition_of = {o: offer_partition(o) for o in sorted({e.change.offer_id for e in checked})}
        with self._write() as conn:
            # The numbers first: the lock on them orders this append after any other writer of
            # the same partitions, before it reads where the offers stand.
            numbers = self._lock_numbers(
                conn,
                sorted({(e.change.diffuser_id, partition_of[e.change.offer_id]) for e in checked}),
            )
            self._save_positions(conn, positions)
            self._write_timeline(conn, timeline)
            heads = self._heads(conn, sorted({entry.key for entry in checked}))
            # The offers' rows in feed_offers, rewritten below, are where they then stand.
            taken, _ = admit(checked, heads)
            if not taken:
                return []
            last_seq = dict(numbers)
            rows: list[dict[str, object]] = []
            stored: list[FeedEntry] = []
            last: dict[FeedOfferKey, dict[str, object]] = {}
            for entry in taken:
                change = entry.change
                partition = partition_of[change.offer_id]
                seq = last_seq[(change.diffuser_id, partition)] + 1
                last_seq[(change.diffuser_id, partition)] = seq
                stored.append(FeedEntry(seq, change))
                rows.append(
                    {
                        "diffuser_id": change.diffuser_id,
                        "partition": partition,
                        "seq": seq,
                        "offer_id": change.offer_id,
                        "version": change.version,
                        "kind": str(change.kind),
                        "reason": str(change.reason),
                        "offer_type": None if change.offer_type is None else str(change.offer_type),
                        "view_json": entry.view_json,
                        "occurred_at": change.occurred_at,
                    }
                )
                last[entry.key] = {
                    "b_diffuser_id": change.diffuser_id,
                    "b_offer_id": change.offer_id,
                    "b_partition": partition,
                    "b_seq": seq,
                    "b_version": change.version,
                    "b_occurred_at": change.occurred_at,
                    "b_kind": str(change.kind),
                }
            conn.execute(insert(feed_entries), rows)
            self._write_last(conn, last, present=heads.keys())
            moved = [
                {"b_diffuser_id": d, "b_partition": p, "seq": seq}
                for (d, p), seq in last_seq.items()
                if seq != numbers[(d, p)]
            ]
            conn.execute(
                update(feed_heads)
                .where(feed_heads.c.diffuser_id == bindparam("b_diffuser_id"))
                .where(feed_heads.c.partition == bindparam("b_partition"))
                .values(seq=bindparam("seq")),
                moved,
            )
        return stored

    def set_key(
        self,
        owner_kind: OwnerKind,
        owner_id: str,
        key_hash: str,
        *,
        at: datetime,
        replace: bool = False,
    ) -> list[ApiKey]:
        check_key(owner_kind, owner_id, key_hash)
        owner = KeyOwner(owner_kind, owner_id)
        k = api_keys.c
        with self._write() as conn:
            row = conn.execute(select(*_KEY_COLUMNS).where(k.key_hash == key_hash)).one_or_none()
            check_reuse(None if row is None else _key_of(row), owner)
            if row is None:
                conn.execute(
                    insert(api_keys).values(
                        key_hash=key_hash, owner_kind=owner_kind, owner_id=owner_id, created_at=at
                    )
                )
            if not replace:
                return []
            return _revoke(conn, _in_force_of(owner) & (k.key_hash != key_hash), at)

    def revoke_keys(self, owner_kind: OwnerKind, owner_id: str, *, at: datetime) -> list[ApiKey]:
        with self._write() as conn:
            return _revoke(conn, _in_force_of(KeyOwner(owner_kind, owner_id)), at)

    def revoke_key(self, key_id: str, *, at: datetime) -> ApiKey | None:
        check_key_id(key_id)
        # The id is hex digits only (checked), so nothing in it is a LIKE wildcard.
        named = api_keys.c.key_hash.like(f"{key_id}%")
        with self._write() as conn:
            _revoke(conn, named & api_keys.c.revoked_at.is_(None), at)
            row = conn.execute(select(*_KEY_COLUMNS).where(named)).one_or_none()
        return None if row is None else _key_of(row)

    # ------------------------------------------------------------ reads

    def timeline(self, partitions: Collection[int], *, changes: bool = True) -> list[TimelineRow]:
        t = diffusion_timeline.c
        columns = [t.offer_id, t.partition, t.version, t.evaluated_at, t.waiting_json]
        query = (
            select(*columns, *([t.change] if changes else []))
            .where(t.partition.in_(sorted(partitions)))
            .order_by(t.offer_id)
        )
        with self._engine.connect() as conn:
            return [
                TimelineRow(
                    row.offer_id,
                    row.partition,
                    row.version,
                    row.change if changes else None,
                    row.evaluated_at,
                    tuple(bytes.fromhex(t) for t in json.loads(row.waiting_json)),
                )
                for row in conn.execute(query)
            ]

    def timeline_change(self, offer_id: str) -> bytes | None:
        query = select(diffusion_timeline.c.change).where(diffusion_timeline.c.offer_id == offer_id)
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else bytes(value)

    def positions(self) -> dict[tuple[str, int], int]:
        with self._engine.connect() as conn:
            return self._read_positions(conn)

    def head(self, diffuser_id: str) -> FeedCursor:
        query = select(feed_heads.c.partition, feed_heads.c.seq).where(
            feed_heads.c.diffuser_id == diffuser_id
        )
        with self._engine.connect() as conn:
            return _cursor((row.partition, row.seq) for row in conn.execute(query))

    def changes(
        self, diffuser_id: str, after: FeedCursor = START, limit: int = 100
    ) -> list[FeedEntry]:
        wanted = max(limit, 0)
        runs: list[list[FeedEntry]] = []
        views: dict[str, OfferFields] = {}
        with self._engine.connect() as conn:
            for partition in range(OFFER_PARTITIONS):
                query = (
                    select(feed_entries)
                    .where(feed_entries.c.diffuser_id == diffuser_id)
                    .where(feed_entries.c.partition == partition)
                    .where(feed_entries.c.seq > after.of(partition))
                    .order_by(feed_entries.c.seq)
                    .limit(wanted)
                )
                runs.append([_entry_of(row, views) for row in conn.execute(query)])
        return interleave(runs, wanted)

    def current(self, diffuser_id: str, offer_id: str) -> FeedEntry | None:
        query = (
            select(feed_entries)
            .join(feed_offers, _at_last_entry())
            .where(feed_offers.c.diffuser_id == diffuser_id)
            .where(feed_offers.c.offer_id == offer_id)
            .where(feed_offers.c.kind == str(DiffusionKind.UPSERT))
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _entry_of(row)

    def last_seqs(
        self, diffuser_ids: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        diffusers = sorted(set(diffuser_ids))
        if not diffusers:
            return found
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(offer_ids))):
                query = (
                    select(feed_offers.c.diffuser_id, feed_offers.c.offer_id, feed_offers.c.seq)
                    .where(feed_offers.c.diffuser_id.in_(diffusers))
                    .where(feed_offers.c.offer_id.in_(chunk))
                )
                for diffuser_id, offer_id, seq in conn.execute(query):
                    found[(diffuser_id, offer_id)] = seq
        return found

    def currents(
        self, diffuser_ids: Sequence[str], offer_ids: Sequence[str]
    ) -> dict[tuple[str, str], FeedEntry]:
        found: dict[tuple[str, str], FeedEntry] = {}
        # Diffusers that see an offer alike hold the same view text: decode each text once.
        views: dict[str, OfferFields] = {}
        diffusers = sorted(set(diffuser_ids))
        if not diffusers:
            return found
        # Both lists bound, so the primary key (diffuser_id, offer_id) serves every pair. Only the
        # offers are chunked: diffusers are a few hundred at most (one convention each).
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(offer_ids))):
                query = (
                    select(feed_entries)
                    .join(feed_offers, _at_last_entry())
                    .where(feed_offers.c.diffuser_id.in_(diffusers))
                    .where(feed_offers.c.offer_id.in_(chunk))
                    .where(feed_offers.c.kind == str(DiffusionKind.UPSERT))
                )
                for row in conn.execute(query):
                    found[(row.diffuser_id, row.offer_id)] = _entry_of(row, views)
        return found

    def snapshot(self, diffuser_id: str, upto: FeedCursor | None = None) -> Iterator[FeedEntry]:
        limit = self.head(diffuser_id) if upto is None else upto
        for partition in range(OFFER_PARTITIONS):
            after = 0
            while True:
                query = (
                    select(feed_entries)
                    .join(feed_offers, _at_last_entry())
                    .where(feed_offers.c.diffuser_id == diffuser_id)
                    .where(feed_offers.c.kind == str(DiffusionKind.UPSERT))
                    .where(feed_offers.c.partition == partition)
                    .where(feed_offers.c.seq > after)
                    .where(feed_offers.c.seq <= limit.of(partition))
                    .order_by(feed_offers.c.seq)
                    .limit(SNAPSHOT_BATCH)
                )
                with self._engine.connect() as conn:
                    batch = [_entry_of(row) for row in conn.execute(query)]
                yield from batch
                if len(batch) < SNAPSHOT_BATCH:
                    break
                after = batch[-1].seq

    def key(self, key_hash: str) -> ApiKey | None:
        query = select(*_KEY_COLUMNS).where(api_keys.c.key_hash == key_hash)
        with self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _key_of(row)

    def all_keys(self) -> list[ApiKey]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(*_KEY_COLUMNS)).all()
        return sorted((_key_of(row) for row in rows), key=key_order)

    def owner_of(self, key_hash: str) -> KeyOwner | None:
        stored = self.key(key_hash)
        return stored.owner if stored is not None and stored.in_force else None

    # ------------------------------------------------------------ helpers

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with (
            self._engine.connect().execution_options(**{_WRITE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def _heads(
        self, conn: Connection, keys: Sequence[FeedOfferKey]
    ) -> dict[FeedOfferKey, FeedHead]:
        """Where each (diffuser, offer) of `keys` stands (see `FeedHead`)."""
        wanted = set(keys)
        diffusers = sorted({diffuser_id for diffuser_id, _ in wanted})
        offer_ids = sorted({offer_id for _, offer_id in wanted})
        found: dict[FeedOfferKey, tuple[int, Any, set[DiffusionKind]]] = {}
        # One query per chunk of offers for every diffuser (a fan-out touches most pairs): a
        # query per diffuser cost a round of statement execution each.
        for diffuser_chunk in _chunks(diffusers):
            for chunk in _chunks(offer_ids):
                query = (
                    select(
                        feed_offers.c.diffuser_id,
                        feed_offers.c.offer_id,
                        feed_offers.c.version,
                        feed_offers.c.occurred_at,
                        feed_entries.c.kind,
                    )
                    .join(
                        feed_entries,
                        and_(
                            feed_entries.c.diffuser_id == feed_offers.c.diffuser_id,
                            feed_entries.c.offer_id == feed_offers.c.offer_id,
                            feed_entries.c.version == feed_offers.c.version,
                            feed_entries.c.occurred_at == feed_offers.c.occurred_at,
                        ),
                    )
                    .where(feed_offers.c.diffuser_id.in_(diffuser_chunk))
                    .where(feed_offers.c.offer_id.in_(chunk))
                )
                for row in conn.execute(query):
                    key = (row.diffuser_id, row.offer_id)
                    if key in wanted:
                        found.setdefault(key, (row.version, row.occurred_at, set()))[2].add(
                            DiffusionKind(row.kind)
                        )
        return {
            key: FeedHead(version, occurred_at, frozenset(kinds))
            for key, (version, occurred_at, kinds) in found.items()
        }

    def _lock_numbers(
        self, conn: Connection, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The last `seq` of each (diffuser, partition) of `keys`, their rows locked until the
        transaction ends (created at 0 when missing)."""
        numbers: dict[tuple[str, int], int] = {}
        if not keys:
            return numbers
        diffusers = sorted({d for d, _ in keys})
        partitions = sorted({p for _, p in keys})
        absent = {(d, p) for d in diffusers for p in partitions}
        for chunk in _chunks(diffusers):
            query = (
                select(feed_heads.c.diffuser_id, feed_heads.c.partition)
                .where(feed_heads.c.diffuser_id.in_(chunk))
                .where(feed_heads.c.partition.in_(partitions))
            )
            absent.difference_update(
                (row.diffuser_id, row.partition) for row in conn.execute(query)
            )
        if absent:
            new = [{"diffuser_id": d, "partition": p, "seq": 0} for d, p in sorted(absent)]
            dialect = postgresql if self._postgres else sqlite
            conn.execute(dialect.insert(feed_heads).on_conflict_do_nothing(), new)
        for chunk in _chunks(diffusers):
            query = (
                select(feed_heads.c.diffuser_id, feed_heads.c.partition, feed_heads.c.seq)
                .where(feed_heads.c.diffuser_id.in_(chunk))
                .where(feed_heads.c.partition.in_(partitions))
                .order_by(feed_heads.c.diffuser_id, feed_heads.c.partition)
                .with_for_update()
            )
            for row in conn.execute(query):
                numbers[(row.diffuser_id, row.partition)] = int(row.seq)
        return numbers

    def _write_last(
        self,
        conn: Connection,
        last: Mapping[FeedOfferKey, dict[str, object]],
        present: Collection[FeedOfferKey],
    ) -> None:
        known = set(present)
        updates = [values for key, values in last.items() if key in known]
        inserts = [
            {name.removeprefix("b_"): value for name, value in values.items()}
            for key, values in last.items()
            if key not in known
        ]
        if inserts:
            conn.execute(insert(feed_offers), inserts)
        if updates:
            conn.execute(
                update(feed_offers)
                .where(feed_offers.c.diffuser_id == bindparam("b_diffuser_id"))
                .where(feed_offers.c.offer_id == bindparam("b_offer_id"))
                .values(
                    partition=bindparam("b_partition"),
                    seq=bindparam("b_seq"),
                    version=bindparam("b_version"),
                    occurred_at=bindparam("b_occurred_at"),
                    kind=bindparam("b_kind"),
                ),
                updates,
            )

    def _write_timeline(self, conn: Connection, rows: Sequence[TimelineRow]) -> None:
        if not rows:
            return
        ids = sorted({row.offer_id for row in rows})
        present: set[str] = set()
        for chunk in _chunks(ids):
            query = select(diffusion_timeline.c.offer_id).where(
                diffusion_timeline.c.offer_id.in_(chunk)
            )
            present.update(conn.execute(query).scalars())
        missing = [
            r.offer_id
            for r in rows
            if r.change is None and r.version > 0 and r.offer_id not in present
        ]
        if missing:
            raise FeedError(
                f"timeline rows without their change for offers with no row yet: {missing[:5]}"
            )
        values = [
            {
                "b_offer_id": row.offer_id,
                "partition": row.partition,
                "version": row.version,
                "change": row.change,
                "evaluated_at": row.evaluated_at,
                "waiting_json": json.dumps([t.hex() for t in row.waiting]),
            }
            for row in rows
        ]
        inserts = [
            {("offer_id" if k == "b_offer_id" else k): v for k, v in value.items()}
            for value, row in zip(values, rows, strict=True)
            if row.offer_id not in present
        ]
        whole = [
            v
            for v, r in zip(values, rows, strict=True)
            if r.offer_id in present and r.change is not None
        ]
        moved = [
            {
                "b_offer_id": row.offer_id,
                "b_version": row.version,
                "evaluated_at": row.evaluated_at,
                "waiting_json": value["waiting_json"],
            }
            for value, row in zip(values, rows, strict=True)
            if row.offer_id in present and row.change is None
        ]
        if inserts:
            conn.execute(insert(diffusion_timeline), inserts)
        # A row never goes back to an older version (a writer that lost its partitions and
        # writes late), and a row without its change applies only to the version it names.
        at_id = diffusion_timeline.c.offer_id == bindparam("b_offer_id")
        if whole:
            conn.execute(
                update(diffusion_timeline)
                .where(at_id)
                .where(diffusion_timeline.c.version <= bindparam("version"))
                .values(
                    partition=bindparam("partition"),
                    version=bindparam("version"),
                    change=bindparam("change"),
                    evaluated_at=bindparam("evaluated_at"),
                    waiting_json=bindparam("waiting_json"),
                ),
                whole,
            )
        if moved:
            conn.execute(
                update(diffusion_timeline)
                .where(at_id)
                .where(diffusion_timeline.c.version == bindparam("b_version"))
                .values(
                    evaluated_at=bindparam("evaluated_at"),
                    waiting_json=bindparam("waiting_json"),
                ),
                moved,
            )

    def _read_positions(self, conn: Connection) -> dict[tuple[str, int], int]:
        return read_positions(conn, feed_positions)

    def _save_positions(self, conn: Connection, positions: Positions) -> None:
        save_positions(conn, feed_positions, positions)

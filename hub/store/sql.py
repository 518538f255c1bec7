"""`SqlStore`: the regional store on SQLAlchemy 2 Core, for SQLite (default) and PostgreSQL.

It keeps every promise of `hub.store.port`: each write call runs in one database transaction
that writes the rows and the consumed positions (positions first, so any failure after them
rolls both back), and batches its writes (one SELECT for the stored versions of the batch's
offers, then executemany INSERT/UPDATE/DELETE per table, whatever the batch size).

Engines: SQLite gets WAL journaling (readers never block the writer; synchronous=NORMAL, see
`_configure_sqlite`), foreign keys on, and
`BEGIN IMMEDIATE` for write transactions (the write lock is taken up front, so two writers queue
instead of failing halfway). PostgreSQL goes through psycopg 3; a plain ``postgresql://`` URL is
read as ``postgresql+psycopg://``. Offers are keyed by offer id on Kafka, so one offer has one
writer at a time; two writers racing on the same new offer make one of them fail and retry.

The schema is created only by the alembic migrations (`SqlStore.migrate()` or `upgrade(url)`).
Every method is synchronous and blocks on the database: async callers use
`await asyncio.to_thread(store.apply, changes, positions)`, never call it on the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.elements import ColumnElement

from hub.core.contribution import CustomerChannel, CustomerRecord
from hub.core.offer import FieldGroup, OfferType, PrivateBlock
from hub.core.regional import ContributorVersion, OfferStatus, Provenance, RegionalChange
from hub.records import from_json_record, offer_fields_from_json
from hub.store.digest import digest_of, offer_line
from hub.store.port import (
    CountKey,
    PositionedDigest,
    Positions,
    SequencedRejection,
    StoredOffer,
    StoredRejection,
    StoreError,
    VersionEntry,
)
from hub.store.positions import read_positions, save_positions
from hub.store.projection import (
    ProjectedChange,
    canonical_json,
    check_aware,
    check_positions,
    group_order,
    latest_per_offer,
    newer_changes,
    project,
    rule_key,
)
from hub.store.schema import (
    consumed_positions,
    offer_private,
    offer_provenance,
    offer_versions,
    offers,
)
from hub.store.schema import customer_data as customer_table
from hub.store.schema import rejections as rejection_table

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"

# Bound parameters per IN list: far below SQLite's (32766) and PostgreSQL's (65535) limits.
_CHUNK: Final = 500

# Execution option marking a connection that will write (SQLite then begins IMMEDIATE).
_WRITE: Final = "sitn_write"


def normalise_url(url: str | URL) -> URL:
    """The URL with the driver this project ships: ``postgresql`` means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


# Seconds a writer waits for another's SQLite transaction before giving up.
SQLITE_BUSY_TIMEOUT: Final = 120.0


def create_store_engine(url: str | URL) -> Engine:
    """An engine for the store: SQLite with WAL, foreign keys and explicit BEGINs; or psycopg."""
    parsed = normalise_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    # Writers of one SQLite file take turns (BEGIN IMMEDIATE): the store projector may wait
    # behind a large feed append. Wait long rather than fail at sqlite3's default of 5 s.
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT} if sqlite else {})
    if sqlite:
        if parsed.database not in (None, "", ":memory:"):
            # Zero setup: the default store lives under SITN_HOME, which may not exist yet.
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Python's sqlite3 opens transactions behind our back, and only before DML; take the
        # control back so a transaction covers its SELECTs too (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode may lose the last commits on power loss, never corrupt.
                # Positions are lost with their rows, so the consumer re-reads those records:
                # exactly-once effect holds, without an fsync per commit.
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(connection: Connection | None = None) -> Config:
    """The alembic configuration, built in code (no alembic.ini at run time).

    With `connection`, migrations run on it, inside the caller's transaction.
    """
    config = Config()
    # configparser interpolates '%': escape it in case the install path holds one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | URL | Engine, revision: str = "head") -> None:
    """Migrates the database at `url` (or behind an engine) to `revision` (default: the latest)."""
    engine = url if isinstance(url, Engine) else create_store_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        if engine is not url:
            engine.dispose()


def downgrade(url: str | URL | Engine, revision: str) -> None:
    """Migrates the database back to `revision` (``"base"``: no table left). Loses data."""
    engine = url if isinstance(url, Engine) else create_store_engine(url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), revision)
    finally:
        if engine is not url:
            engine.dispose()


def _rejection_of(row: Any) -> StoredRejection:
    return StoredRejection(
        event_id=row.event_id,
        contributor=row.contributor,
        offer_id=row.offer_id,
        occurred_at=row.occurred_at,
        rule_ids=tuple(json.loads(row.rule_ids)),
        message=row.message,
        field_groups=tuple(FieldGroup(g) for g in json.loads(row.field_groups)),
        judged_at=row.judged_at,
    )


def _offer_of(
    row: Any, private_json: str | None, provenance: tuple[Provenance, ...]
) -> StoredOffer:
    """An `offers` row with its private block's text and its provenance, as a `StoredOffer`."""
    return StoredOffer(
        offer_id=row.offer_id,
        offer_type=OfferType(row.offer_type),
        status=OfferStatus(row.status),
        version=row.version,
        department=row.department,
        commune_insee=row.commune_insee,
        public=offer_fields_from_json(json.loads(row.public_json)),
        private=None
        if private_json is None
        else from_json_record(PrivateBlock, json.loads(private_json)),
        provenance=provenance,
        contributor_versions=tuple(
            # Rows written before the event id was recorded hold [contributor, version].
            ContributorVersion(*known)
            for known in json.loads(row.contributor_versions)
        ),
    )


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class SqlStore:
    """The regional store in an SQL database. Synchronous: call it from a worker thread.

    `SqlStore(url)` connects lazily; call `migrate()` once (at start-up) to create or update
    the schema. `close()` (or `with SqlStore(url) as store:`) releases the connections.
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

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writes

    def apply(self, changes: Sequence[RegionalChange], positions: Positions) -> None:
        check_positions(positions)
        projected = [project(change) for change in changes]
        with self._write() as conn:
            self._save_positions(conn, positions)
            offer_ids = sorted({item.change.offer_id for item in projected})
            stored = self._stored_versions(conn, offer_ids)
            accepted = newer_changes(projected, stored)
            if not accepted:
                return
            latest = latest_per_offer(accepted)
            self._write_offers(conn, latest, stored)
            self._replace_children(conn, latest)
            conn.execute(
                insert(offer_versions),
                [
                    {
                        "offer_id": item.change.offer_id,
                        "version": item.change.version,
                        "event_id": item.change.event_id,
                        "contributor": item.change.contributor,
                        "source_version": item.change.source_version,
                        "changed_groups": canonical_json(
                            [str(group) for group in item.change.changed_groups]
                        ),
                        "occurred_at": item.change.occurred_at,
                        "status": str(item.change.status),
                    }
                    for item in accepted
                ],
            )

    def record_rejections(
        self, rejections: Sequence[StoredRejection], positions: Positions
    ) -> None:
        check_positions(positions)
        rows: dict[tuple[str, str], dict[str, object]] = {}
        for r in rejections:
            check_aware("rejection", r.event_id, r.occurred_at)
            if r.judged_at is not None:
                check_aware("rejection", r.event_id, r.judged_at)
            key = (r.event_id, rule_key(r.rule_ids))
            rows.setdefault(
                key,
                {
                    "event_id": r.event_id,
                    "rule_ids": key[1],
                    "contributor": r.contributor,
                    "offer_id": r.offer_id,
                    "occurred_at": r.occurred_at,
                    "message": r.message,
                    "field_groups": canonical_json([str(group) for group in r.field_groups]),
                    "judged_at": r.judged_at,
                },
            )
        with self._write() as conn:
            if self._postgres:
                # Numbering by max(seq) + 1 needs one writer at a time, so that positions are
                # committed in their order (SQLite's BEGIN IMMEDIATE already serialises writers).
                # This mode lets readers through; only other writers of the table wait.
                conn.exec_driver_sql("LOCK TABLE rejections IN SHARE ROW EXCLUSIVE MODE")
            self._save_positions(conn, positions)
            event_ids = sorted({event_id for event_id, _ in rows})
            present: set[tuple[str, str]] = set()
            for chunk in _chunks(event_ids):
                query = select(rejection_table.c.event_id, rejection_table.c.rule_ids).where(
                    rejection_table.c.event_id.in_(chunk)
                )
                present.update((row.event_id, row.rule_ids) for row in conn.execute(query))
            new_rows = [row for key, row in rows.items() if key not in present]
            if new_rows:
                last = conn.execute(select(func.max(rejection_table.c.seq))).scalar_one()
                for seq, row in enumerate(new_rows, start=(last or 0) + 1):
                    row["seq"] = seq
                conn.execute(insert(rejection_table), new_rows)

    def record_customer_data(self, records: Sequence[CustomerRecord], positions: Positions) -> None:
        check_positions(positions)
        rows: dict[str, dict[str, object]] = {}
        for record in records:
            check_aware("customer record", record.event_id, record.collected_at)
            rows.setdefault(
                record.event_id,
                {
                    "event_id": record.event_id,
                    "collector": record.collector,
                    "collected_at": record.collected_at,
                    "channel": str(record.channel),
                    "full_name": record.full_name,
                    "email": record.email,
                    "phone": record.phone,
                    "postal_code": record.postal_code,
                    "message": record.message,
                    "consent_marketing": record.consent_marketing,
                },
            )
        with self._write() as conn:
            self._save_positions(conn, positions)
            present: set[str] = set()
            for chunk in _chunks(sorted(rows)):
                query = select(customer_table.c.event_id).where(
                    customer_table.c.event_id.in_(chunk)
                )
                present.update(conn.execute(query).scalars())
            new_rows = [row for event_id, row in rows.items() if event_id not in present]
            if new_rows:
                conn.execute(insert(customer_table), new_rows)

    # ------------------------------------------------------------ reads

    def positions(self) -> dict[tuple[str, int], int]:
        with self._read() as conn:
            return self._read_positions(conn)

    def offer(self, offer_id: str) -> StoredOffer | None:
        with self._read() as conn:
            row = conn.execute(select(offers).where(offers.c.offer_id == offer_id)).one_or_none()
            if row is None:
                return None
            private_json = conn.execute(
                select(offer_private.c.private_json).where(offer_private.c.offer_id == offer_id)
            ).scalar_one_or_none()
            provenance = self._provenance(conn, offer_id)
        return _offer_of(row, private_json, provenance.get(offer_id, ()))

    def offers(self, after: str = "", limit: int = 100) -> list[StoredOffer]:
        offer_id = self._code_point_order(offers.c.offer_id)
        query = select(offers).where(offer_id > after).order_by(offer_id).limit(max(limit, 0))
        # One snapshot for the page and its children (see `_read`); the page bounds the IN lists.
        with self._read() as conn:
            rows = conn.execute(query).all()
            ids = [row.offer_id for row in rows]
            private: dict[str, str] = {}
            provenance: dict[str, tuple[Provenance, ...]] = {}
            for chunk in _chunks(ids):
                private.update(
                    (row.offer_id, row.private_json)
                    for row in conn.execute(
                        select(offer_private).where(offer_private.c.offer_id.in_(chunk))
                    )
                )
                provenance.update(self._provenance(conn, chunk))
        return [
            _offer_of(row, private.get(row.offer_id), provenance.get(row.offer_id, ()))
            for row in rows
        ]

    def history(self, offer_id: str) -> list[VersionEntry]:
        query = (
            select(offer_versions)
            .where(offer_versions.c.offer_id == offer_id)
            .order_by(offer_versions.c.version)
        )
        with self._read() as conn:
            return [
                VersionEntry(
                    offer_id=row.offer_id,
                    version=row.version,
                    event_id=row.event_id,
                    contributor=row.contributor,
                    source_version=row.source_version,
                    changed_groups=tuple(FieldGroup(g) for g in json.loads(row.changed_groups)),
                    occurred_at=row.occurred_at,
                    status=OfferStatus(row.status),
                )
                for row in conn.execute(query)
            ]

    def rejections(self, contributor: str | None = None, limit: int = 100) -> list[StoredRejection]:
        query = select(rejection_table).order_by(
            rejection_table.c.occurred_at.desc(),
            self._code_point_order(rejection_table.c.event_id),
            self._code_point_order(rejection_table.c.rule_ids),
        )
        if contributor is not None:
            query = query.where(rejection_table.c.contributor == contributor)
        query = query.limit(max(limit, 0))
        with self._read() as conn:
            return [_rejection_of(row) for row in conn.execute(query)]

    def rejections_after(
        self, contributor: str, after: int = 0, limit: int = 100
    ) -> list[SequencedRejection]:
        query = (
            select(rejection_table)
            .where(rejection_table.c.contributor == contributor)
            .where(rejection_table.c.seq > after)
            .order_by(rejection_table.c.seq)
            .limit(max(limit, 0))
        )
        with self._read() as conn:
            return [SequencedRejection(row.seq, _rejection_of(row)) for row in conn.execute(query)]

    def rejection_counts(self, since: datetime) -> dict[str, int]:
        if since.utcoffset() is None:
            raise StoreError(f"rejection_counts(since={since.isoformat()}): give a UTC offset")
        query = (
            select(rejection_table.c.contributor, func.count())
            .where(
                or_(
                    rejection_table.c.judged_at >= since,
                    and_(
                        rejection_table.c.judged_at.is_(None),
                        rejection_table.c.occurred_at >= since,
                    ),
                )
            )
            .group_by(rejection_table.c.contributor)
        )
        with self._read() as conn:
            return {str(contributor): int(n) for contributor, n in conn.execute(query)}

    def customer_data(self, collector: str | None = None) -> list[CustomerRecord]:
        query = select(customer_table).order_by(
            customer_table.c.collected_at, self._code_point_order(customer_table.c.event_id)
        )
        if collector is not None:
            query = query.where(customer_table.c.collector == collector)
        with self._read() as conn:
            return [
                CustomerRecord(
                    event_id=row.event_id,
                    collector=row.collector,
                    collected_at=row.collected_at,
                    channel=CustomerChannel(row.channel),
                    full_name=row.full_name,
                    email=row.email,
                    phone=row.phone,
                    postal_code=row.postal_code,
                    message=row.message,
                    consent_marketing=row.consent_marketing,
                )
                for row in conn.execute(query)
            ]

    def counts(self) -> dict[CountKey, int]:
        query = select(
            offers.c.offer_type, offers.c.department, offers.c.status, func.count()
        ).group_by(offers.c.offer_type, offers.c.department, offers.c.status)
        with self._read() as conn:
            return {
                (OfferType(t), department, OfferStatus(status)): n
                for t, department, status, n in conn.execute(query)
            }

    def digest(self) -> str:
        with self._read() as conn:
            return self._digest(conn)

    def digest_with_positions(self) -> PositionedDigest:
        # One snapshot for the positions and every query of the digest (see `_read`).
        with self._read() as conn:
            positions = self._read_positions(conn)
            return PositionedDigest(self._digest(conn), positions)

    def _digest(self, conn: Connection) -> str:
        # Both queries read the caller's snapshot (see `_read`).
        provenance = self._provenance(conn, None)
        rows = conn.execute(
            select(
                offers.c.offer_id,
                offers.c.offer_type,
                offers.c.status,
                offers.c.version,
                offers.c.public_json,
            )
        ).all()
        return digest_of(
            (
                row.offer_id,
                offer_line(
                    row.offer_id,
                    row.offer_type,
                    row.status,
                    row.version,
                    row.public_json,
                    provenance.get(row.offer_id, ()),
                ),
            )
            for row in rows
        )

    # ------------------------------------------------------------ helpers

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with (
            self._engine.connect().execution_options(**{_WRITE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # A read that runs several queries must see one snapshot: SQLite's (WAL) transaction
        # does from its first read on; PostgreSQL needs REPEATABLE READ (READ COMMITTED would
        # let a commit land between two queries).
        conn = self._engine.connect()
        if self._postgres:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn:
            yield conn

    def _code_point_order(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # PostgreSQL may sort text by a locale; "C" sorts by bytes, i.e. like Python and SQLite.
        return column.collate("C") if self._postgres else column

    def _read_positions(self, conn: Connection) -> dict[tuple[str, int], int]:
        return read_positions(conn, consumed_positions)

    def _save_positions(self, conn: Connection, positions: Positions) -> None:
        save_positions(conn, consumed_positions, positions)

    def _stored_versions(self, conn: Connection, offer_ids: Sequence[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for chunk in _chunks(offer_ids):
            query = select(offers.c.offer_id, offers.c.version).where(offers.c.offer_id.in_(chunk))
            versions.update((row.offer_id, row.version) for row in conn.execute(query))
        return versions

    def _write_offers(
        self,
        conn: Connection,
        latest: Mapping[str, ProjectedChange],
        stored: Mapping[str, int],
    ) -> None:
        def values(item: ProjectedChange, prefix: str) -> dict[str, object]:
            return {
                f"{prefix}offer_id": item.change.offer_id,
                f"{prefix}offer_type": str(item.change.offer_type),
                f"{prefix}status": str(item.change.status),
                f"{prefix}version": item.change.version,
                f"{prefix}department": item.department,
                f"{prefix}commune_insee": item.commune_insee,
                f"{prefix}public_json": item.public_json,
                f"{prefix}contributor_versions": item.contributor_versions_json,
            }

        inserts = [values(item, "") for offer_id, item in latest.items() if offer_id not in stored]
        updates = [values(item, "b_") for offer_id, item in latest.items() if offer_id in stored]
        if inserts:
            conn.execute(insert(offers), inserts)
        if updates:
            columns = (
                "offer_type",
                "status",
                "version",
                "department",
                "commune_insee",
                "public_json",
                "contributor_versions",
            )
            conn.execute(
                update(offers)
                .where(offers.c.offer_id == bindparam("b_offer_id"))
                .values(
                    {name: bindparam(f"b_{name}") for name in columns},
                ),
                updates,
            )

    def _replace_children(self, conn: Connection, latest: Mapping[str, ProjectedChange]) -> None:
        """Replaces the private block and provenance of the offers in `latest` by theirs."""
        offer_ids = sorted(latest)
        for chunk in _chunks(offer_ids):
            conn.execute(delete(offer_private).where(offer_private.c.offer_id.in_(chunk)))
            conn.execute(delete(offer_provenance).where(offer_provenance.c.offer_id.in_(chunk)))
        private_rows = [
            {"offer_id": offer_id, "private_json": item.private_json}
            for offer_id, item in latest.items()
            if item.private_json is not None
        ]
        if private_rows:
            conn.execute(insert(offer_private), private_rows)
        provenance_rows = [
            {
                "offer_id": offer_id,
                "group": str(p.group),
                "contributor": p.contributor,
                "event_id": p.event_id,
                "source_version": p.source_version,
                "occurred_at": p.occurred_at,
                "authority": p.authority,
            }
            for offer_id, item in latest.items()
            for p in item.change.provenance
        ]
        if provenance_rows:
            conn.execute(insert(offer_provenance), provenance_rows)

    def _provenance(
        self, conn: Connection, offer_id: str | Sequence[str] | None
    ) -> dict[str, tuple[Provenance, ...]]:
        """Provenance per offer (of one offer, of a few, or of all), in FieldGroup order."""
        query = select(offer_provenance)
        if isinstance(offer_id, str):
            query = query.where(offer_provenance.c.offer_id == offer_id)
        elif offer_id is not None:
            query = query.where(offer_provenance.c.offer_id.in_(offer_id))
        grouped: dict[str, list[Provenance]] = {}
        for row in conn.execute(query):
            grouped.setdefault(row.offer_id, []).append(
                Provenance(
                    group=FieldGroup(row.group),
                    contributor=row.contributor,
                    event_id=row.event_id,
                    source_version=row.source_version,
                    occurred_at=row.occurred_at,
                    authority=row.authority,
                )
            )
        return {
            key: tuple(sorted(items, key=lambda p: group_order(p.group)))
            for key, items in grouped.items()
        }

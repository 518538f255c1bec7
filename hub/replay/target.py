"""The database a rebuild writes into: checked before anything is written, then opened for speed.

A target must be reachable, must not be the live store (compared by what the URLs point at: the
same SQLite file however its path is spelled, the same PostgreSQL server and database), and must
be empty or a regional store that only rebuilds wrote to. So it is refused, untouched, if it holds
tables a regional store does not have (another application's database), and after migrating it,
if any table a rebuild never writes holds rows (diffusion feeds, API keys, webhooks: a live hub
store or a copy of one). Whether its rows and positions match the streams is checked by
`hub.replay.rebuild.check_resumable`.

The target is opened for speed, on its own connections only. SQLite: `synchronous=OFF` and a
256 MB page cache; a crash of the process cannot corrupt it (WAL), a power cut during the rebuild
may: delete the file and start again (a swap copies it into a live store that keeps its own
settings). PostgreSQL: `synchronous_commit=off`; a server crash may lose the last commits, each
with its positions, so the next run reads those records again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from alembic.util.exc import CommandError
from sqlalchemy import Engine, Table, event, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from hub.store.schema import (
    consumed_positions,
    customer_data,
    metadata,
    offer_private,
    offer_provenance,
    offer_versions,
    offers,
    rejections,
)
from hub.store.sql import SqlStore, normalise_url

# What a rebuild writes, parents first: everything of the regional store and nothing else.
REBUILT_TABLES: Final[tuple[Table, ...]] = (
    offers,
    offer_private,
    offer_provenance,
    offer_versions,
    rejections,
    customer_data,
    consumed_positions,
)

_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", ""})
_DEFAULT_PORTS: Final = {"postgresql": 5432}


class TargetError(ValueError):
    """The database cannot receive a rebuild; the message says why and what to give instead."""


def carried_tables() -> list[Table]:
    """The store database's tables a rebuild does not write (feeds, keys...), parents first."""
    return [table for table in metadata.sorted_tables if table not in REBUILT_TABLES]


def shown(url: str | URL) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def identity(url: str | URL) -> tuple[str, ...]:
    """What the URL points at: (sqlite, absolute file) or (backend, host, port, database)."""
    parsed = _parsed(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            raise TargetError(
                f"{shown(url)} is an in-memory SQLite database, which vanishes with the "
                "process; give a file (sqlite:///path/to/rebuild.db) or a PostgreSQL database"
            )
        return ("sqlite", str(Path(database).expanduser().resolve()))
    host = (parsed.host or "").lower()
    host = "localhost" if host in _LOCAL_HOSTS else host
    port = str(parsed.port or _DEFAULT_PORTS.get(backend) or "")
    return (backend, host, port, parsed.database or "")


def same_database(a: str | URL, b: str | URL) -> bool:
    return identity(a) == identity(b)


def _parsed(url: str | URL) -> URL:
    try:
        return normalise_url(url)
    except ArgumentError:
        raise TargetError(
            f"{url!r} is not a database URL; give e.g. sqlite:///path/to/rebuild.db or "
            "postgresql://user@host/database"
        ) from None


def open_target(url: str, live_url: str | None) -> SqlStore:
    """The target store, migrated and tuned, or `TargetError` (nothing written, unless migrating).

    Refused before any write: the live store itself (`live_url`; None when there is none, as in
    a benchmark), an unreachable database, a database with tables a store does not have.
    Refused after migrating: rows in the tables a rebuild never writes.
    """
    if live_url is not None and same_database(url, live_url):
        raise TargetError(
            f"{shown(url)} is the live store (SITN_DATABASE_URL): a rebuild goes into another, "
            "empty database"
        )
    try:
        store = SqlStore(url)
    except (ArgumentError, NoSuchModuleError) as error:
        raise TargetError(f"{shown(url)} cannot be opened: {error}") from None
    try:
        _check_and_migrate(store, url)
    except BaseException:
        store.close()
        raise
    store.engine.dispose()  # the tuning below applies to new connections only
    _tune(store.engine)
    return store


def _check_and_migrate(store: SqlStore, url: str) -> None:
    try:
        tables = set(inspect(store.engine).get_table_names())
    except SQLAlchemyError as error:
        raise TargetError(
            f"cannot reach {shown(url)}: {_first_line(error)}; check the URL, that the server "
            "runs and that the database exists"
        ) from None
    unknown = sorted(tables - set(metadata.tables) - {"alembic_version"})
    if unknown:
        raise TargetError(
            f"{shown(url)} holds tables a regional store does not have "
            f"({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}): it is another "
            "application's database; give an empty one"
        )
    try:
        store.migrate()
    except (SQLAlchemyError, CommandError) as error:
        raise TargetError(
            f"cannot prepare {shown(url)} for the store: {_first_line(error)}; give an empty "
            "database this user may create tables in"
        ) from None
    with store.engine.connect() as conn:
        filled = [
            table.name
            for table in carried_tables()
            if conn.execute(select(1).select_from(table).limit(1)).first() is not None
        ]
    if filled:
        raise TargetError(
            f"{shown(url)} holds {', '.join(filled)} rows, which a rebuild never writes: it is "
            "a live hub store (or a copy of one), not a rebuild; give an empty database"
        )


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _tune(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-262144")  # KiB: 256 MB
            finally:
                cursor.close()

    elif engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _fast_postgres(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            # Outside any transaction, so SQLAlchemy's own BEGIN comes after it.
            dbapi_connection.autocommit = True
            try:
                dbapi_connection.execute("SET synchronous_commit TO off")
            finally:
                dbapi_connection.autocommit = False

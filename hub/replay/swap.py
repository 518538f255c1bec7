"""Makes a verified rebuild the live store, keeping the previous one, never under a running hub.

What becomes live is the rebuilt regional store (offers, their children and history, rejections,
customer data, its consumed positions). The tables a rebuild does not write (diffusion feeds and
their positions, API keys, webhooks; `hub.replay.target.carried_tables`) stay as the live store
has them. Rejections are renumbered after the live store's last `seq`, so a contributor's
rejections feed resuming from a cursor of the old store misses none (it sees them again once).

A swap requires that nothing else uses the live store: stop the worker and `sitn api serve`.
It refuses, changing nothing, while another process has it open, and unless the live store's
positions on the rebuilt topics are still the ones the rebuild was verified at (a worker ran in
between: run the rebuild again, it resumes up to the new positions).

- **SQLite.** The live file keeps its path. Under an exclusive lock on it (which SQLite only
  grants when no other connection has the file open: that is the detection), a copy of the whole
  live database is written next to it (`<file>.before-rebuild-<UTC time>`), then the rebuilt
  tables replace the live ones in one transaction (the rebuilt file is attached). The rebuilt
  file is left as it is; it may be deleted.
- **PostgreSQL.** Both databases must be on one server. Other sessions on either database are
  refused (`pg_stat_activity`); the carried tables are copied from the live database into the
  rebuilt one; then, in one transaction, the live database is renamed
  `<name>_before_rebuild_<UTC time>` and the rebuilt one takes its name, so SITN_DATABASE_URL
  stays as it is. PostgreSQL itself refuses to rename a database someone is connected to; if a
  session appeared meanwhile, nothing is renamed and the copy is undone. Renaming needs the
  databases' owner or a superuser, connected to the `postgres` (or `template1`) database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from hub.replay.target import REBUILT_TABLES, carried_tables, identity, shown
from hub.store.positions import read_positions
from hub.store.schema import consumed_positions, rejections
from hub.store.sql import create_store_engine, normalise_url

_COPY_CHUNK: Final = 5000
_IN_USE: Final = "55006"  # PostgreSQL's object_in_use


class SwapError(RuntimeError):
    """The swap did not happen; the message says why and what to do (nothing was changed)."""


@dataclass(frozen=True)
class SwapOutcome:
    kept: str  # where the previous live store now is
    leftover: str  # what the operator may delete afterwards ("" if nothing)


def swap(
    live_url: str, rebuilt_url: str, verified: Mapping[tuple[str, int], int], topics: Sequence[str]
) -> SwapOutcome:
    """Makes the store at `rebuilt_url` live (see the module docstring); raises `SwapError`.

    `verified` are the live store's positions on `topics` that the rebuild was verified at.
    """
    live, rebuilt = identity(live_url), identity(rebuilt_url)
    if live[0] != rebuilt[0]:
        raise SwapError(
            f"the live store is on {live[0]} and the rebuilt one on {rebuilt[0]}: --swap only "
            "replaces a store by one of the same kind; set SITN_DATABASE_URL to the rebuilt "
            "database instead"
        )
    expected = {key: offset for key, offset in verified.items() if key[0] in topics}
    if live[0] == "sqlite":
        return _swap_sqlite(Path(live[1]), Path(rebuilt[1]), expected, topics)
    if live[0] == "postgresql":
        return _swap_postgres(normalise_url(live_url), normalise_url(rebuilt_url), expected, topics)
    raise SwapError(f"--swap knows SQLite and PostgreSQL, not {live[0]}")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _moved_on(expected: Mapping[tuple[str, int], int], found: Mapping[tuple[str, int], int]) -> str:
    moved = sorted(key for key in set(expected) | set(found) if expected.get(key) != found.get(key))
    topic, partition = moved[0]
    return (
        f"the live store moved on since the rebuild was verified ({topic}[{partition}]: "
        f"{expected.get((topic, partition), 0):,} -> {found.get((topic, partition), 0):,}): a "
        "worker wrote to it; stop it and run the same command again (the rebuild resumes)"
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- SQLite


def _swap_sqlite(
    live: Path, rebuilt: Path, expected: Mapping[tuple[str, int], int], topics: Sequence[str]
) -> SwapOutcome:
    if not live.is_file():
        raise SwapError(f"the live store {live} does not exist: there is nothing to swap")
    # timeout=0: a lock held elsewhere is an answer (someone uses the file), not a wait.
    connection = sqlite3.connect(live, timeout=0, isolation_level=None)
    try:
        # Every lock taken from now on (this file, and the rebuilt one once attached) is kept
        # until the connection closes; none is granted while another connection has the file.
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        _begin_exclusive(connection, f"the live store {live}")
        found = _sqlite_positions(connection, topics)
        connection.execute("COMMIT")
        if found != expected:
            raise SwapError(_moved_on(expected, found))
        kept = live.with_name(f"{live.name}.before-rebuild-{_stamp()}")
        if kept.exists():
            raise SwapError(f"{kept} already exists; wait a second and run the command again")
        with closing(sqlite3.connect(kept)) as copy:
            connection.backup(copy)
        connection.execute("ATTACH DATABASE ? AS rebuilt", (str(rebuilt),))
        _begin_exclusive(connection, f"the rebuilt store {rebuilt}")
        try:
            _replace_sqlite_tables(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()
    return SwapOutcome(kept=str(kept), leftover=str(rebuilt))


def _begin_exclusive(connection: sqlite3.Connection, what: str) -> None:
    try:
        connection.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as error:
        raise SwapError(
            f"{what} is open in another process ({error}): stop the worker, `sitn api serve` "
            "and anything else using it, then run the same command again (the rebuild is kept)"
        ) from None


def _sqlite_positions(
    connection: sqlite3.Connection, topics: Sequence[str]
) -> dict[tuple[str, int], int]:
    rows = connection.execute("SELECT topic, partition, next_offset FROM main.consumed_positions")
    return {(topic, partition): offset for topic, partition, offset in rows if topic in topics}


def _replace_sqlite_tables(connection: sqlite3.Connection) -> None:
    (shift,) = connection.execute("SELECT coalesce(max(seq), 0) FROM main.rejections").fetchone()
    for table in reversed(REBUILT_TABLES):
        connection.execute(f"DELETE FROM main.{_quoted(table.name)}")  # noqa: S608 - our names
    for table in REBUILT_TABLES:
        names = [_quoted(column.name) for column in table.columns]
        chosen = [
            f"{name} + {int(shift)}" if table is rejections and column.name == "seq" else name
            for name, column in zip(names, table.columns, strict=True)
        ]
        connection.execute(
            f"INSERT INTO main.{_quoted(table.name)} ({', '.join(names)}) "  # noqa: S608
            f"SELECT {', '.join(chosen)} FROM rebuilt.{_quoted(table.name)}"
        )


# ---------------------------------------------------------------- PostgreSQL


def _swap_postgres(
    live: URL, rebuilt: URL, expected: Mapping[tuple[str, int], int], topics: Sequence[str]
) -> SwapOutcome:
    if identity(live)[1:3] != identity(rebuilt)[1:3]:
        raise SwapError(
            f"the rebuilt database {shown(rebuilt)} is not on the live store's server "
            f"({shown(live)}): --swap renames databases on one server; rebuild into a database "
            "of that server, or set SITN_DATABASE_URL to the rebuilt one"
        )
    names = (live.database or "", rebuilt.database or "")
    maintenance = next(name for name in ("postgres", "template1") if name not in names)
    admin = create_engine(live.set(database=maintenance))
    try:
        _refuse_sessions(admin, names)
        shift = _carry(live, rebuilt, expected, topics)
        kept = f"{names[0][:40]}_before_rebuild_{_stamp().lower()}"
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(
                    f"ALTER DATABASE {_quoted(names[0])} RENAME TO {_quoted(kept)}"
                )
                conn.exec_driver_sql(
                    f"ALTER DATABASE {_quoted(names[1])} RENAME TO {_quoted(names[0])}"
                )
        except DBAPIError as error:
            _uncarry(rebuilt, shift)
            if getattr(error.orig, "sqlstate", None) == _IN_USE:
                raise SwapError(
                    "a session connected to the live or the rebuilt database while swapping; "
                    "nothing was renamed: stop the worker and `sitn api serve` and run the same "
                    "command again"
                ) from None
            raise
    finally:
        admin.dispose()
    return SwapOutcome(kept=shown(live.set(database=kept)), leftover="")


def _refuse_sessions(admin: Engine, names: Sequence[str]) -> None:
    query = text(
        "SELECT datname, count(*), string_agg(pid::text, ', ' ORDER BY pid) FROM pg_stat_activity "
        "WHERE datname = ANY(:names) AND pid <> pg_backend_pid() GROUP BY datname ORDER BY datname"
    )
    with admin.connect() as conn:
        busy = conn.execute(query, {"names": list(names)}).all()
    if busy:
        said = "; ".join(f"{name}: {count} (pids {pids})" for name, count, pids in busy)
        raise SwapError(
            f"other sessions are connected ({said}): stop the worker, `sitn api serve` and "
            "anything else using these databases, then run the same command again"
        )


@contextmanager
def _engines(live: URL, rebuilt: URL) -> Iterator[tuple[Engine, Engine]]:
    source, target = create_store_engine(live), create_store_engine(rebuilt)
    try:
        yield source, target
    finally:
        source.dispose()
        target.dispose()


def _carry(
    live: URL, rebuilt: URL, expected: Mapping[tuple[str, int], int], topics: Sequence[str]
) -> int:
    """Copies the carried tables into the rebuilt database, renumbers its rejections; the shift."""
    with _engines(live, rebuilt) as (source, target):
        reading = source.connect().execution_options(isolation_level="REPEATABLE READ")
        with reading as read, target.begin() as write:
            found = {
                key: offset
                for key, offset in read_positions(read, consumed_positions).items()
                if key[0] in topics
            }
            if found != expected:
                raise SwapError(_moved_on(expected, found))
            for table in carried_tables():
                _copy(read, write, table)
            shift = int(read.execute(select(func.max(rejections.c.seq))).scalar_one() or 0)
            _shift_rejections(write, shift)
    return shift


def _copy(read: Connection, write: Connection, table: Table) -> None:
    rows = read.execution_options(yield_per=_COPY_CHUNK).execute(select(table)).mappings()
    for chunk in rows.partitions():
        write.execute(insert(table), [dict(row) for row in chunk])


def _shift_rejections(write: Connection, shift: int) -> None:
    # Through negative numbers: `seq` is unique and PostgreSQL checks it row by row.
    if shift:
        write.execute(update(rejections).values(seq=-rejections.c.seq))
        write.execute(update(rejections).values(seq=-rejections.c.seq + shift))


def _uncarry(rebuilt: URL, shift: int) -> None:
    """Undoes `_carry` in the rebuilt database: a later run finds it as the rebuild left it."""
    engine = create_store_engine(rebuilt)
    try:
        with engine.begin() as write:
            for table in reversed(carried_tables()):
                write.execute(delete(table))
            _shift_rejections(write, -shift)
    finally:
        engine.dispose()

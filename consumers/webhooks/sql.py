"""`SqlWebhookStore`: the diffusers' webhooks on SQLAlchemy 2 Core (SQLite, PostgreSQL).

Same database and migrations as the regional store and the feeds: the `webhooks` table of
`hub.store.schema`. It keeps every promise of `consumers.webhooks.port`; each write is one statement
(or a write and its read-back in one transaction), so a concurrent `redrive` or `set` and the
dispatcher's writes never interleave halfway:
- `record_delivery` reads the cursor with its row locked and writes the further of the two, per
  partition (the cursor never goes back);
- `record_failure` counts and parks in the same UPDATE (``failures + 1 >= :park_after``).

A last error is kept and read back only as `consumers.webhooks.replies.printable` makes it (one
bounded line of printable text), whoever wrote it and whenever: a receiver's answer stored
before that rule cannot reach a terminal or a page raw either.
The secret is stored as is (signing needs it); nothing here logs it.
Every method is synchronous and blocks on the database: async callers use a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, case, delete, insert, select, update
from sqlalchemy.engine import URL

from consumers.feeds.cursor import FeedCursor
from consumers.webhooks.port import Webhook, WebhookError, check_url
from consumers.webhooks.replies import printable
from hub.store.schema import webhooks
from hub.store.sql import create_store_engine, upgrade

# Execution option marking a connection that will write (SQLite then begins IMMEDIATE; the
# listener is installed by `hub.store.sql.create_store_engine`).
_WRITE: Final = "sitn_write"


def _webhook_of(row: Any) -> Webhook:
    return Webhook(
        diffuser_id=row.diffuser_id,
        url=row.url,
        secret=row.secret,
        delivered=FeedCursor.parse(row.delivered_cursor),
        state="parked" if row.state == "parked" else "active",
        failures=int(row.failures),
        last_error=None if row.last_error is None else printable(row.last_error),
        last_attempt_at=row.last_attempt_at,
    )


class SqlWebhookStore:
    """The webhooks in an SQL database. Synchronous: call it from a worker thread.

    `SqlWebhookStore(url)` connects lazily; `migrate()` creates or updates the schema (the same
    migrations as `SqlStore`). `close()` (or `with SqlWebhookStore(url) as hooks:`) releases the
    connections.
    """

    def __init__(self, url: str | URL) -> None:
        self._engine = create_store_engine(url)

    @property
    def engine(self) -> Engine:
        return self._engine

    def migrate(self) -> None:
        """Creates or updates the schema to the latest migration (idempotent)."""
        upgrade(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlWebhookStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writes

    def set_webhook(
        self, diffuser_id: str, url: str, secret: str, delivered: FeedCursor
    ) -> Webhook:
        if not diffuser_id:
            raise WebhookError("a webhook needs the diffuser's id")
        check_url(diffuser_id, url)
        if not secret:
            raise WebhookError(f"the webhook of diffuser {diffuser_id!r} needs a signing secret")
        values = {
            "url": url,
            "secret": secret,
            "delivered_cursor": str(delivered),
            "state": "active",
            "failures": 0,
            "last_error": None,
            "last_attempt_at": None,
        }
        with self._write() as conn:
            found = conn.execute(
                update(webhooks).where(webhooks.c.diffuser_id == diffuser_id).values(**values)
            ).rowcount
            if not found:
                conn.execute(insert(webhooks).values(diffuser_id=diffuser_id, **values))
            query = select(webhooks).where(webhooks.c.diffuser_id == diffuser_id)
            return _webhook_of(conn.execute(query).one())

    def record_delivery(
        self, diffuser_id: str, delivered: FeedCursor, at: datetime
    ) -> Webhook | None:
        with self._write() as conn:
            query = (
                select(webhooks.c.delivered_cursor)
                .where(webhooks.c.diffuser_id == diffuser_id)
                .with_for_update()
            )
            stored = conn.execute(query).scalar_one_or_none()
            if stored is None:
                return None
            conn.execute(
                update(webhooks)
                .where(webhooks.c.diffuser_id == diffuser_id)
                .values(
                    delivered_cursor=str(FeedCursor.parse(stored).furthest(delivered)),
                    failures=0,
                    last_error=None,
                    last_attempt_at=at,
                )
            )
            return self._read(conn, diffuser_id)

    def record_failure(
        self, diffuser_id: str, error: str, at: datetime, park_after: int
    ) -> Webhook | None:
        with self._write() as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.diffuser_id == diffuser_id)
                .values(
                    failures=webhooks.c.failures + 1,
                    last_error=printable(error),
                    last_attempt_at=at,
                    state=case(
                        (webhooks.c.failures + 1 >= park_after, "parked"),
                        else_=webhooks.c.state,
                    ),
                )
            )
            return self._read(conn, diffuser_id)

    def redrive(self, diffuser_id: str) -> Webhook | None:
        with self._write() as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.diffuser_id == diffuser_id)
                .values(state="active", failures=0)
            )
            return self._read(conn, diffuser_id)

    def remove(self, diffuser_id: str) -> bool:
        with self._write() as conn:
            removed = conn.execute(
                delete(webhooks).where(webhooks.c.diffuser_id == diffuser_id)
            ).rowcount
        return bool(removed)

    # ------------------------------------------------------------ reads

    def webhook(self, diffuser_id: str) -> Webhook | None:
        with self._engine.connect() as conn:
            return self._read(conn, diffuser_id)

    def webhooks(self) -> list[Webhook]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(webhooks).order_by(webhooks.c.diffuser_id))
            return [_webhook_of(row) for row in rows]

    # ------------------------------------------------------------ helpers

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with (
            self._engine.connect().execution_options(**{_WRITE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    @staticmethod
    def _read(conn: Connection, diffuser_id: str) -> Webhook | None:
        query = select(webhooks).where(webhooks.c.diffuser_id == diffuser_id)
        row = conn.execute(query).one_or_none()
        return None if row is None else _webhook_of(row)

"""Alembic's environment for the SQL store: runs the revisions on the connection it is handed.

`hub.store.sql.upgrade` builds the alembic `Config` in code and passes an open connection in
`config.attributes["connection"]`, so migrations run inside the caller's transaction on the
caller's engine (SQLite pragmas included). Without one (the `alembic` command line), it connects
to `sqlalchemy.url`; offline mode prints the SQL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from hub.store.schema import metadata
from hub.store.sql import create_store_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions rebuild tables in batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database to migrate: call hub.store.sql.upgrade(url), or set sqlalchemy.url"
        )
    engine = create_store_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


run_migrations()

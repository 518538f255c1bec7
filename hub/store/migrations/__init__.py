"""The alembic migrations of the SQL store: the only code that creates or alters its schema.

Shipped inside the package and run by `hub.store.sql.upgrade` with a configuration built in code
(no alembic.ini). Each revision in `versions/` is frozen once released: it spells its tables out
instead of importing `hub.store.schema`, whose metadata a test compares with the migrated schema.
"""

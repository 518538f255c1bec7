"""Alembic revisions of the SQL store, oldest first (alembic itself ignores this file)."""

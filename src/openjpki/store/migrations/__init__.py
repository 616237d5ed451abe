"""Alembic migrations of the store (run by openjpki.store.migrate.upgrade)."""

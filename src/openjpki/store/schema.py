"""Which migration a database is at, read without Alembic.

Every CLI command and server process opens the store and asks whether its schema is current;
importing Alembic (and its script directory) for that alone costs about half a second per
command. The answer needs one row of ``alembic_version`` and the name of the newest
migration, kept here as ``SCHEMA_HEAD`` (``tests/store/test_migrations.py`` checks that it
names Alembic's head, so a new migration cannot be forgotten here). Alembic itself is
imported only when there is migrating to do (:mod:`openjpki.store.migrate`).
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Connection, Engine, inspect, text

# The newest migration under openjpki/store/migrations/versions (its ``revision``).
SCHEMA_HEAD = "card1"

_VERSION_TABLE = "alembic_version"


def schema_version(connection: Connection) -> Optional[str]:
    """The migration the database is at; None when it has never been migrated."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


def is_current(engine: Engine) -> bool:
    """True when the schema is at the newest migration."""
    with engine.connect() as conn:
        return schema_version(conn) == SCHEMA_HEAD

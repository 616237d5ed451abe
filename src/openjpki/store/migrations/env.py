"""Alembic environment for the store. Run programmatically by ``openjpki.store.migrate``
(``init`` and ``serve`` call it), which hands over an open connection in
``config.attributes["connection"]``; there is no alembic.ini. To write a new migration:

    .venv/bin/python -m openjpki.store.migrate revision -m "what it adds"
"""

from __future__ import annotations

from alembic import context

from openjpki.store.migrate import load_models
from openjpki.store.models import Base

load_models()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("openjpki migrations run with a connection: use openjpki.store.migrate")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: let later migrations copy tables (batch mode).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()

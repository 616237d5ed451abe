"""Schema migrations, run from code: ``upgrade(engine)`` is ``alembic upgrade head`` on that
engine, and the only way the schema is made (``init`` and ``serve`` call it).

Concurrent upgrades (two processes initialising one store) are serialised: by an advisory
lock on PostgreSQL, by a lock file next to the database on SQLite.

A new migration for a model change (developers only)::

    .venv/bin/python -m openjpki.store.migrate revision -m "add residents"
"""

from __future__ import annotations

import fcntl
import os
import importlib
import pkgutil
import sys
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from openjpki.store.models import Base
from openjpki.store.schema import is_current

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x4F4A504B49  # "OJPKI": the advisory lock held while migrating


def load_models() -> None:
    """Import every module of ``openjpki.store`` so that all tables (this part's and those that
    later parts add in their own modules) are on ``Base.metadata``."""
    import openjpki.store as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("migrations", "migrate", "testing") and not info.ispkg:
            importlib.import_module(f"{package.__name__}.{info.name}")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration (read once per process: the scripts do not change under us)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    db = engine.url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        yield
        return
    lock_path = Path(db).expanduser().with_name(Path(db).name + ".migrate-lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default the newest); a no-op when it is there."""
    if revision == "head" and _safe_is_current(engine):
        return
    cfg = alembic_config()
    lock = _sqlite_file_lock(engine) if engine.dialect.name == "sqlite" else _nothing()
    with lock, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def schema_differences(engine: Engine) -> list:
    """What autogenerate would change to make the database match the models (empty when the
    migrations and the models agree)."""
    load_models()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def _safe_is_current(engine: Engine) -> bool:
    try:
        return is_current(engine)
    except Exception:  # noqa: BLE001 — e.g. a database that does not exist yet: migrate
        return False


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _new_revision(message: str) -> None:
    """Autogenerate a migration against a scratch SQLite database at head."""
    from openjpki.store.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.sqlite3")
        upgrade(engine)
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":  # pragma: no cover — a developer tool
    if len(sys.argv) == 4 and sys.argv[1] == "revision" and sys.argv[2] == "-m":
        _new_revision(sys.argv[3])
    else:
        sys.exit("usage: python -m openjpki.store.migrate revision -m MESSAGE")

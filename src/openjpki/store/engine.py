"""One engine from a URL, and the store object the services use.

``sqlite:///…`` (the default, a file in the home) is opened with write-ahead logging, foreign
keys enforced and a busy timeout, so a CLI command and a running server can share it;
``postgresql+psycopg://…`` is used as given. Writes in this package are single atomic
statements (conditional UPDATEs, UPDATE … RETURNING counters) so that they are correct under
SQLite's implicit transactions and PostgreSQL's READ COMMITTED alike.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from openjpki.private_home import create_private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    try:
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """The engine for ``url``. For a SQLite file its directory is created if missing."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            # The file made 0600 before SQLite opens it: its -wal and -shm take its mode.
            create_private_file(Path(u.database).expanduser())
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = create_engine(u, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


class Store:
    """An engine and its session factory. ``Store.open(url)`` makes one; ``migrate()`` brings
    the schema to the newest migration (what ``init`` and ``serve`` do)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> "Store":
        return cls(make_engine(url, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        from openjpki.store.schema import is_current

        try:
            if is_current(self.engine):
                return  # the usual case, decided without importing Alembic
        except Exception:  # noqa: BLE001 — e.g. no database yet: migrating will make it
            pass
        from openjpki.store.migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

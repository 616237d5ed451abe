"""One engine from a URL, and the store object the services use.

``sqlite:///…`` (the default, a file in the home) is opened with write-ahead logging, foreign
keys enforced and a busy timeout, so a CLI command and a running server can share it;
``postgresql+psycopg://…`` is used as given.

Transactions on SQLite: pysqlite's own handling (a deferred ``BEGIN`` sent before the first
write, none before a read) lets two read-modify-write transactions read the same row before
either writes, so a try counter or a single-use value checked that way can be raced. Here the
driver's handling is switched off and SQLAlchemy's ``begin`` sends the ``BEGIN`` itself: a
writing transaction (:meth:`Store.transaction`, ``immediate(engine).begin()``) starts with
``BEGIN IMMEDIATE`` — it takes the database's write lock before its first read, so what it
reads stays current until it commits (the ``SELECT … FOR UPDATE`` of PostgreSQL, which
SQLite ignores) — while reading sessions start with a plain ``BEGIN`` and never wait for a
writer (write-ahead logging). On PostgreSQL the row locks (``with_for_update``) and single
atomic statements (conditional UPDATEs, ``UPDATE … RETURNING`` counters) do the same.
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


IMMEDIATE = "openjpki_immediate"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver sends no BEGIN of its own: _sqlite_begin does (see the module text).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    try:
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    # Straight to the driver: a statement without parameters or result, sent at the start
    # of every transaction (SQLAlchemy's own execution around it cost more than SQLite's).
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def immediate(engine: Engine) -> Engine:
    """``engine`` for writing transactions: on SQLite they begin with ``BEGIN IMMEDIATE``
    (the write lock first); elsewhere the same engine."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{IMMEDIATE: True})


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
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


class Store:
    """An engine and its session factory. ``Store.open(url)`` makes one; ``migrate()`` brings
    the schema to the newest migration (what ``init`` and ``serve`` do)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Writing transactions: the write lock first on SQLite (see the module text).
        self._immediate = immediate(engine)
        self._writers = sessionmaker(self._immediate, expire_on_commit=False)

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
        """A session in one transaction: committed when the block ends, rolled back on error.
        On SQLite it holds the write lock from its start (``BEGIN IMMEDIATE``), so a counter
        or single-use value read in it cannot change before the commit."""
        with self._writers() as session, session.begin():
            yield session

    def core_transaction(self):
        """A Core connection in one writing transaction (``BEGIN IMMEDIATE`` on SQLite), for
        a hot path that needs no ORM: committed when the block ends, rolled back on error."""
        return self._immediate.begin()

    def dispose(self) -> None:
        self.engine.dispose()

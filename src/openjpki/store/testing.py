"""Helpers for tests that need a store, on SQLite and on PostgreSQL.

PostgreSQL comes from ``$OPENJPKI_TEST_POSTGRES_URL`` (scripts/test starts a throwaway server
and sets it, see scripts/services.d/postgres.sh). A migrated store there is one schema per
process, emptied (TRUNCATE) for each test; an unmigrated one is a fresh schema, dropped
afterwards. On SQLite each test gets a copy of a database migrated once per process. Either
way tests never see each other's rows.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from openjpki.store.engine import Store, make_engine

POSTGRES_ENV = "OPENJPKI_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = (
    f"${POSTGRES_ENV} is not set: run the suite with scripts/test, which starts a PostgreSQL "
    "server (scripts/services.d/postgres.sh)"
)


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def postgres_schema_url(base_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema (search_path); dropped on exit."""
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_sqlite_template: list[Path] = []


def _migrated_sqlite_copy(target: Path) -> None:
    """Copy a database migrated once per process (migrating is the slow part of a test)."""
    if _sqlite_template and not _sqlite_template[0].exists():
        _sqlite_template.clear()  # removed under us (tmp cleaning): make it again
    if not _sqlite_template:
        directory = Path(tempfile.mkdtemp(prefix="openjpki-template-"))
        atexit.register(shutil.rmtree, directory, True)
        engine = make_engine(f"sqlite:///{directory / 'template.sqlite3'}")
        from openjpki.store.migrate import upgrade

        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _sqlite_template.append(directory / "template.sqlite3")
    shutil.copyfile(_sqlite_template[0], target)


@contextmanager
def open_test_store(backend: str, tmp_path: Path, *, migrate: bool = True) -> Iterator[Store]:
    """A migrated, empty store on ``backend`` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        path = tmp_path / "store.sqlite3"
        if migrate:
            _migrated_sqlite_copy(path)
        store = Store.open(f"sqlite:///{path}")
        try:
            if migrate:
                store.migrate()
            yield store
        finally:
            store.dispose()
        return
    base = postgres_url()
    if base is None:
        raise RuntimeError(POSTGRES_SKIP_REASON)
    if migrate:
        store = Store.open(_emptied_postgres_schema(base))
        try:
            yield store
        finally:
            store.dispose()
        return
    with postgres_schema_url(base) as url:
        store = Store.open(url)
        try:
            yield store
        finally:
            store.dispose()


_pg_schema: dict[str, str] = {}


def _emptied_postgres_schema(base_url: str) -> str:
    """A schema migrated once per process and emptied (TRUNCATE) for each test."""
    url = _pg_schema.get(base_url)
    if url is None:
        schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(base_url).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        engine = make_engine(url)
        from openjpki.store.migrate import upgrade

        upgrade(engine)
        engine.dispose()
        _pg_schema[base_url] = url
        atexit.register(_drop_schema, base_url, schema)
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def _drop_schema(base_url: str, schema: str) -> None:
    try:
        admin = make_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    except Exception:  # noqa: BLE001 — the server may already be gone at exit
        pass

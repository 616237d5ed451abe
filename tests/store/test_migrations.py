"""Migrations are the only schema path, and they agree with the models (autogenerate finds
nothing to change) on both backends."""

import threading

import pytest
from sqlalchemy import inspect

from openjpki.store import SCHEMA_HEAD, Store, head_revision, is_current, schema_differences, schema_version
from openjpki.store.migrate import downgrade, upgrade
from openjpki.store.testing import open_test_store


def test_migrated_schema_matches_models(store):
    assert is_current(store.engine)
    assert schema_differences(store.engine) == []


def test_a_fresh_database_has_no_tables_until_migrated(backend, tmp_path):
    with open_test_store(backend, tmp_path, migrate=False) as s:
        assert not is_current(s.engine)
        assert "certificates" not in inspect(s.engine).get_table_names()
        # compare against an empty database finds the whole schema missing: the check can fail
        assert len(schema_differences(s.engine)) >= 3
        s.migrate()
        assert {"authorities", "certificates", "crl_series"} <= set(inspect(s.engine).get_table_names())
        assert schema_differences(s.engine) == []


def test_upgrade_twice_is_a_no_op_and_downgrade_round_trips(store):
    store.migrate()
    downgrade(store.engine, "base")
    assert "certificates" not in inspect(store.engine).get_table_names()
    upgrade(store.engine)
    assert is_current(store.engine) and head_revision() is not None
    assert schema_differences(store.engine) == []


def test_two_processes_migrating_at_once_do_not_collide(backend, tmp_path):
    with open_test_store(backend, tmp_path, migrate=False) as s:
        url = s.engine.url.render_as_string(hide_password=False)
        errors = []

        def run():
            other = Store.open(url)
            try:
                other.migrate()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
            finally:
                other.dispose()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert is_current(s.engine)


def test_the_light_schema_check_names_alembics_head(store):
    """``SCHEMA_HEAD`` (read without importing Alembic on every command) is the newest
    migration: a new migration must update it, or every store would migrate forever."""
    assert SCHEMA_HEAD == head_revision()
    with store.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_HEAD


def test_opening_a_current_store_does_not_import_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/s.sqlite3"
    s = Store.open(url)
    s.migrate()
    s.dispose()
    code = ("import sys; from openjpki.store import Store; s = Store.open(sys.argv[1]); s.migrate(); "
            "from openjpki.store import is_current; assert is_current(s.engine); "
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_crl_scan_reads_the_covering_index_alone(store):
    """The CRL's entries come from the index on (authority_id, status, partition,
    revoked_entry) without visiting the certificate rows (SQLite's plan says COVERING)."""
    if store.dialect != "sqlite":
        pytest.skip("the plan is read with SQLite's EXPLAIN QUERY PLAN")
    from openjpki.store import queries as q

    stmt = q._revoked_entries(1, "p1").compile(dialect=store.engine.dialect,
                                               compile_kwargs={"render_postcompile": True})
    params = tuple(stmt.params[n] for n in stmt.positiontup)
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt.string, params).fetchall()
    detail = " ".join(row[-1] for row in plan)
    assert "COVERING INDEX ix_certificates_authority_id_status_partition_revoked_entry" in detail

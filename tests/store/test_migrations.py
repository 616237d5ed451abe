"""Migrations are the only schema path, and they agree with the models (autogenerate finds
nothing to change) on both backends."""

import threading

from sqlalchemy import inspect

from openjpki.store import Store, head_revision, is_current, schema_differences
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

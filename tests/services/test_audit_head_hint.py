"""The audit chain's head remembered between commits (openjpki.store.audit.append_all): the
usual append is two statements (one on PostgreSQL), and every way the remembered head can be wrong — another
store (a second node) writing, an entry appended one at a time, the head row deleted, a
rolled-back append — falls back to reading the head under the lock, so the chain stays one
chain without gaps or forks."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, text

from openjpki.services import audit
from openjpki.store import Store
from openjpki.store.audit import append, append_all
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with open_test_store(request.param, tmp_path) as s:
        yield s


@pytest.fixture
def twin(store):
    """A second store on the same database (another process or node)."""
    other = Store.open(store.engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def write(store, i):
    with store.transaction() as s:
        audit.record(s, "test.step", T0 + timedelta(seconds=i), subject=f"resident:{i}", step=i)


def statements_of_one_write(store, i):
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()).upper())

    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        write(store, i)
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    return [s for s in seen if "AUDIT_" in s]


def test_the_usual_append_is_two_statements_and_a_moved_head_four(store, twin):
    write(store, 0)
    usual = statements_of_one_write(store, 1)
    if store.dialect == "postgresql":  # the head's UPDATE in a CTE of the entry's INSERT
        assert len(usual) == 1 and usual[0].startswith("WITH ADVANCED AS (UPDATE AUDIT_HEAD")
    else:
        assert len(usual) == 2 and usual[0].startswith("UPDATE AUDIT_HEAD") and "RETURNING" not in usual[0]
        assert usual[1].startswith("INSERT INTO AUDIT_LOG")
    write(twin, 2)  # the head moves behind the first store's back
    moved = statements_of_one_write(store, 3)
    assert len(moved) == 4 and "RETURNING" in moved[1] and moved[3].startswith("INSERT INTO AUDIT_LOG")
    report = audit.verify(store)
    assert report.ok and report.entries == 4, report


def test_two_stores_writing_in_turn_and_at_once_make_one_chain(store, twin):
    for i in range(6):
        write(store if i % 3 else twin, i)
    errors: list[BaseException] = []

    def worker(target, start):
        try:
            for i in range(start, start + 10):
                write(target, i)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t, 100 * (n + 1))) for n, t in enumerate((store, twin, store))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify(store)
    assert report.ok and report.entries == 36, report


def test_entries_appended_one_at_a_time_or_a_deleted_head_row(store):
    write(store, 0)
    with store.transaction() as s:
        append(s, action="test.single", at=T0)  # the ORM path: moves the head without the hint
    write(store, 1)
    with store.transaction() as s:  # two batches in one transaction: the second follows the first
        append_all(s, [dict(action="test.batch", at=T0)])
        append_all(s, [dict(action="test.batch", at=T0), dict(action="test.batch", at=T0)])
    write(store, 2)
    assert audit.verify(store).ok
    with store.engine.begin() as conn:  # emptied behind our back: the chain starts again
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(text("DELETE FROM audit_head"))
    write(store, 3)
    report = audit.verify(store)
    assert report.ok and report.entries == 1 and report.head_seq == 1, report


def test_a_rolled_back_append_is_not_remembered(store):
    write(store, 0)
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            append_all(s, [dict(action="test.lost", at=T0)])
            raise RuntimeError("the procedure failed after its audit entry")
    write(store, 1)
    report = audit.verify(store)
    assert report.ok and report.entries == 2, report

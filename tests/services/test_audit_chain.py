"""The audit log's hash chain (openjpki.store.audit): verified after writes; any edit, deletion
or reordering done behind the application's back is found, with the first broken entry."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from openjpki.services import audit
from openjpki.store.audit import GENESIS_HASH, SECRET_KEYS, AuditEntry
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with open_test_store(request.param, tmp_path) as s:
        yield s


def write(store, n, start=0):
    for i in range(start, start + n):
        with store.transaction() as s:
            audit.record(s, "test.step", T0 + timedelta(seconds=i), actor="clerk-1",
                         subject=f"resident:{i % 3}", step=i, name="山田　太郎",
                         when=T0.date(), nested={"b": [1, 2], "a": "x"})


def test_empty_chain_verifies(store):
    report = audit.verify(store)
    assert report.ok and report.entries == 0 and report.head_hash == GENESIS_HASH


def test_chain_verifies_and_links(store):
    write(store, 5)
    report = audit.verify(store)
    assert report.ok, report
    assert report.entries == 5 and report.head_seq == 5
    with store.transaction() as s:
        rows = s.query(AuditEntry).order_by(AuditEntry.seq).all()
        assert rows[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
        assert rows[-1].hash == report.head_hash
        assert rows[2].payload["name"] == "山田　太郎"
        assert [e["payload"]["step"] for e in audit.trail(s, "resident:1")] == [1, 4]


def test_rolled_back_entries_leave_no_trace(store):
    write(store, 2)
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            audit.record(s, "test.step", T0, step=99)
            raise RuntimeError("the procedure failed")
    write(store, 1, start=2)
    report = audit.verify(store)
    assert report.ok and report.entries == 3


@pytest.mark.parametrize("tamper, broken_seq", [
    ("UPDATE audit_log SET payload = '{\"step\": 7}' WHERE seq = 3", 3),
    ("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2", 2),
    ("UPDATE audit_log SET at = at WHERE seq = 0", None),  # a no-op stays valid
    ("DELETE FROM audit_log WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 5", 5),  # the newest: caught by the head
    ("UPDATE audit_head SET seq = 4", 5),
])
def test_tampering_is_detected(store, tamper, broken_seq):
    write(store, 5)
    with store.engine.begin() as conn:
        conn.execute(text(tamper))
    report = audit.verify(store)
    if broken_seq is None:
        assert report.ok
    else:
        assert not report.ok
        assert report.broken_seq == broken_seq, report
        assert report.problem


def test_reordering_is_detected(store):
    """Swap two entries' contents (their seq stay in order): both hashes no longer fit."""
    write(store, 4)
    with store.engine.begin() as conn:
        a = conn.execute(text("SELECT payload, at FROM audit_log WHERE seq = 2")).one()
        b = conn.execute(text("SELECT payload, at FROM audit_log WHERE seq = 3")).one()
        upd = text("UPDATE audit_log SET payload = :p, at = :at WHERE seq = :s")
        import json
        conn.execute(upd, {"p": json.dumps(b.payload) if not isinstance(b.payload, str)
                           else b.payload, "at": b.at, "s": 2})
        conn.execute(upd, {"p": json.dumps(a.payload) if not isinstance(a.payload, str)
                           else a.payload, "at": a.at, "s": 3})
    report = audit.verify(store)
    assert not report.ok and report.broken_seq == 2


def test_recomputed_forgery_breaks_at_the_head(store):
    """Rewriting an entry and recomputing its own hash still breaks the next link."""
    from openjpki.store.audit import chain_hash, entry_body

    write(store, 3)
    with store.transaction() as s:
        e = s.get(AuditEntry, 2)
        forged = {"step": 1000}
        new_hash = chain_hash(e.prev_hash, entry_body(e.seq, e.at, e.actor, e.action,
                                                      e.subject, forged))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET payload = :p, hash = :h WHERE seq = 2"),
                     {"p": '{"step": 1000}', "h": new_hash})
    report = audit.verify(store)
    assert not report.ok and report.broken_seq == 3


@pytest.mark.parametrize("key", ["pin", "card_pin", "issuing_secret", "new_pin"])
def test_secrets_are_refused(store, key):
    with pytest.raises(ValueError, match="secrets"):
        with store.transaction() as s:
            audit.record(s, "test.secret", T0, details={key: "1234"})
    assert audit.verify(store).entries == 0


def test_naive_time_is_refused(store):
    with pytest.raises(ValueError):
        with store.transaction() as s:
            audit.record(s, "test.naive", datetime(2025, 1, 1))


def test_concurrent_writers_make_one_chain(store):
    """Writers in several threads are serialised by the head row: no gap, no fork."""
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(8):
                with store.transaction() as s:
                    audit.record(s, "test.concurrent", T0, subject=f"w{w}", i=i)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify(store)
    assert report.ok and report.entries == 32


def test_concurrent_first_writers_without_a_head_row(store):
    """A store emptied without the migration's seed row: the first writers create the head
    without colliding."""
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    test_concurrent_writers_make_one_chain(store)


def test_an_open_transaction_does_not_hold_the_chain(store):
    """Entries are chained at commit: a long procedure (keys made on a card …) does not make
    the other writers wait for it."""
    a = store.sessions()
    a.begin()
    audit.record(a, "test.slow", T0, step="a")
    write(store, 1)  # another writer commits meanwhile, without waiting
    a.commit()
    a.close()
    report = audit.verify(store)
    assert report.ok and report.entries == 2
    with store.transaction() as s:
        assert [e.action for e in s.query(AuditEntry).order_by(AuditEntry.seq)] == [
            "test.step", "test.slow"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(min_size=1, max_size=8).filter(
        lambda k: k.lower() not in SECRET_KEYS), children, max_size=3),
    max_leaves=8)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.dictionaries(
    st.sampled_from(["a", "b", "名前", "rule"]), _json, max_size=3), min_size=1, max_size=6),
       data=st.data())
def test_property_any_single_edit_is_found_at_its_entry(tmp_path_factory, payloads, data):
    """Whatever was logged (unicode, nesting, numbers), the chain verifies; then changing
    any one stored field of any one entry is reported at exactly that entry."""
    import json

    with open_test_store("sqlite", tmp_path_factory.mktemp("prop")) as store:
        for i, p in enumerate(payloads):
            with store.transaction() as s:
                audit.record(s, "prop.entry", T0 + timedelta(microseconds=i), subject="p", **p)
        assert audit.verify(store).ok
        seq = data.draw(st.integers(1, len(payloads)))
        column, value = data.draw(st.sampled_from([
            ("payload", json.dumps({"x": 1})), ("action", "prop.other"), ("actor", "mallory"),
            ("subject", "q"), ("at", "2001-01-01 00:00:00.000000")]))
        with store.engine.begin() as conn:
            before = conn.execute(text(f"SELECT {column} FROM audit_log WHERE seq = :s"),
                                  {"s": seq}).scalar_one()
            conn.execute(text(f"UPDATE audit_log SET {column} = :v WHERE seq = :s"),
                         {"v": value, "s": seq})
        report = audit.verify(store)
        if str(before) == value:
            assert report.ok
        else:
            assert not report.ok and report.broken_seq == seq

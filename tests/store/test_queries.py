"""The store's own guarantees, on both backends: the database (not the code) refuses a
duplicate serial, status changes are compare-and-set, CRL numbers only increase even when
two generators race, and CRL entries stream back exactly as stored."""

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from openjpki.store import Authority, Certificate, parse_serial, serial_hex
from openjpki.store import queries as q

T0 = datetime(2026, 4, 1, 1, 2, 3, tzinfo=timezone.utc)


def add_authority(session, kind="sign", generation=1):
    a = Authority(kind=kind, generation=generation, environment="test", root_der=b"root",
                  key_file=f"{kind}-{generation}.key", options={}, revision=0, created_at=T0)
    session.add(a)
    session.flush()
    return a


def make_cert(authority, serial, *, partition=None, resident_id=None):
    return Certificate(
        serial=serial, authority_id=authority.id, kind=authority.kind, subject_id="S" + serial,
        resident_id=resident_id, partition=partition, not_before=T0,
        not_after=T0 + timedelta(days=365), der=b"der-" + serial.encode(), status="good",
        change_seq=0, issued_at=T0,
    )


@pytest.fixture
def authorities(store):
    with store.transaction() as s:
        sign, auth = add_authority(s, "sign"), add_authority(s, "auth")
    return sign, auth


def test_serial_is_unique_across_both_authorities_by_database_constraint(store, authorities):
    sign, auth = authorities
    with store.transaction() as s:
        q.add_certificate(s, make_cert(sign, "abc123"))
    with pytest.raises(IntegrityError):
        with store.transaction() as s:
            # straight INSERT, bypassing any check the code could make
            s.execute(insert(Certificate).values(
                serial="abc123", authority_id=auth.id, kind="auth", subject_id="x", der=b"x",
                not_before=T0, not_after=T0, status="good", change_seq=0, issued_at=T0))
    with store.transaction() as s:
        assert len(q.list_certificates(s)) == 1


@pytest.mark.parametrize("values", [
    {"status": "lost"},                                   # not a status
    {"status": "revoked"},                                # revoked without entry / date
    {"kind": "other"},
    {"authority_id": 999},                                # foreign key enforced (SQLite too)
], ids=["bad-status", "revoked-without-entry", "bad-kind", "no-such-authority"])
def test_database_constraints_refuse_inconsistent_rows(store, authorities, values):
    sign, _ = authorities
    row = dict(serial="01", authority_id=sign.id, kind="sign", subject_id="x", der=b"x",
               not_before=T0, not_after=T0, status="good", change_seq=0, issued_at=T0)
    row.update(values)
    with pytest.raises(IntegrityError):
        with store.transaction() as s:
            s.execute(insert(Certificate).values(**row))


def test_times_come_back_aware_in_utc(store, authorities):
    sign, _ = authorities
    jst = timezone(timedelta(hours=9))
    with store.transaction() as s:
        c = make_cert(sign, "0f")
        c.not_after = datetime(2031, 7, 1, 23, 59, 59, tzinfo=jst)
        q.add_certificate(s, c)
    with store.sessions() as s:
        got = q.find_certificate(s, "0f").not_after
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got == datetime(2031, 7, 1, 14, 59, 59, tzinfo=timezone.utc)


def test_naive_times_are_refused(store, authorities):
    sign, _ = authorities
    c = make_cert(sign, "10")
    c.issued_at = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive"):
        with store.transaction() as s:
            q.add_certificate(s, c)


def test_status_change_is_compare_and_set(store, authorities):
    sign, _ = authorities
    with store.transaction() as s:
        q.add_certificate(s, make_cert(sign, "aa"))
    kw = dict(status="revoked", reason="keyCompromise", revoked_at=T0, revoked_entry=b"E",
              changed_at=T0, change_seq=1)
    with store.transaction() as s:
        assert q.set_status(s, "aa", expected_status="good", **kw) is True
    with store.transaction() as s:  # a second writer that still believed it was good loses
        assert q.set_status(s, "aa", expected_status="good", **kw) is False
    with store.sessions() as s:
        c = q.find_certificate(s, "aa")
        assert (c.status, c.reason, c.revoked_entry) == ("revoked", "keyCompromise", b"E")


def test_revision_bump_and_changed_since(store, authorities):
    sign, auth = authorities
    with store.transaction() as s:
        for serial in ("01", "02", "03"):
            q.add_certificate(s, make_cert(sign, serial))
    for serial in ("01", "03"):
        with store.transaction() as s:
            seq = q.bump_revision(s, sign.id)
            q.set_status(s, serial, expected_status="good", status="hold", reason="certificateHold",
                         revoked_at=T0, revoked_entry=b"E" + serial.encode(), changed_at=T0,
                         change_seq=seq)
    with store.engine.connect() as conn:
        assert q.revisions(conn) == {sign.id: 2, auth.id: 0}
        assert sorted(q.changed_since(conn, sign.id, 0)) == ["01", "03"]
        assert q.changed_since(conn, sign.id, 1) == ["03"]
        assert q.changed_since(conn, auth.id, 0) == []
        assert q.status_of(conn, "03").status == "hold"
        assert q.status_of(conn, "99") is None


def test_revoked_entries_stream_in_batches_and_filter_by_partition(store, authorities):
    sign, auth = authorities
    with store.transaction() as s:
        for i in range(23):
            q.add_certificate(s, make_cert(sign, f"{i + 1:x}", partition="p1" if i % 2 else "p2"))
        q.add_certificate(s, make_cert(auth, "ff"))
    with store.transaction() as s:
        for i in range(0, 23, 3):  # 8 of them
            q.set_status(s, f"{i + 1:x}", expected_status="good", status="revoked", reason=None,
                         revoked_at=T0, revoked_entry=f"entry{i + 1:x}".encode(), changed_at=T0,
                         change_seq=1)
        q.set_status(s, "ff", expected_status="good", status="revoked", reason=None,
                     revoked_at=T0, revoked_entry=b"entryff", changed_at=T0, change_seq=1)
    with store.engine.connect() as conn:
        got = list(q.stream_revoked_entries(conn, sign.id, batch=3))
        assert sorted(got) == sorted(f"entry{i + 1:x}".encode() for i in range(0, 23, 3))
        p1 = list(q.stream_revoked_entries(conn, sign.id, "p1", batch=2))
        assert sorted(p1) == sorted(f"entry{i + 1:x}".encode() for i in range(0, 23, 3) if i % 2)
        assert q.count_revoked(conn, sign.id) == 8 and q.count_revoked(conn, sign.id, "p1") == len(p1)
        assert list(q.stream_revoked_entries(conn, auth.id)) == [b"entryff"]


def test_revoked_entry_batches_are_lists_of_at_most_the_batch_size(store, authorities):
    """The CRL's batch read (DB-API fetchmany; a server-side cursor on PostgreSQL) gives
    the same entries as the one-by-one stream, held certificates included, good ones not."""
    sign, auth = authorities
    with store.transaction() as s:
        for i in range(30):
            q.add_certificate(s, make_cert(sign, f"{i + 1:x}", partition="p1" if i % 3 else "p2"))
        q.add_certificate(s, make_cert(auth, "ff"))
    expected = {}
    with store.transaction() as s:
        for i in range(0, 30, 2):  # 15 of them, every third of those on hold
            status = "hold" if i % 3 == 0 else "revoked"
            entry = f"entry{i + 1:x}".encode()
            q.set_status(s, f"{i + 1:x}", expected_status="good", status=status, reason=None,
                         revoked_at=T0, revoked_entry=entry, changed_at=T0, change_seq=1)
            expected[entry] = "p1" if i % 3 else "p2"
    with store.engine.connect() as conn:
        batches = list(q.revoked_entry_batches(conn, sign.id, batch=4))
        assert all(isinstance(b, list) and 0 < len(b) <= 4 for b in batches)
        flat = [e for b in batches for e in b]
        assert all(type(e) is bytes for e in flat)
        assert sorted(flat) == sorted(expected)
        assert sorted(flat) == sorted(q.stream_revoked_entries(conn, sign.id))
        p2 = [e for b in q.revoked_entry_batches(conn, sign.id, "p2") for e in b]
        assert sorted(p2) == sorted(e for e, p in expected.items() if p == "p2")
        assert list(q.revoked_entry_batches(conn, sign.id, "nowhere")) == []
        assert list(q.revoked_entry_batches(conn, auth.id)) == []
        # the connection is still usable after the cursor is done
        assert q.count_revoked(conn, sign.id) == len(expected)


def test_revoked_entry_batches_on_an_in_memory_sqlite_store(tmp_path):
    """An in-memory database (one connection, shared by the pool) is read as well."""
    from openjpki.store import Store

    mem = Store.open("sqlite://")
    mem.migrate()
    try:
        with mem.transaction() as s:
            sign = Authority(kind="sign", generation=1, environment="test", root_der=b"r",
                             key_file="k", options={}, revision=0, created_at=T0)
            s.add(sign)
            s.flush()
            for i in range(5):
                q.add_certificate(s, make_cert(sign, f"{i + 1:x}", partition="p"))
        with mem.transaction() as s:
            for i in range(0, 5, 2):
                q.set_status(s, f"{i + 1:x}", expected_status="good", status="revoked", reason=None,
                             revoked_at=T0, revoked_entry=f"e{i}".encode(), changed_at=T0, change_seq=1)
        with mem.engine.connect() as conn:
            got = [e for b in q.revoked_entry_batches(conn, sign.id, batch=2) for e in b]
        assert sorted(got) == [b"e0", b"e2", b"e4"]
    finally:
        mem.dispose()


def test_crl_numbers_strictly_increase_under_concurrent_generation(store, authorities):
    sign, _ = authorities
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def generate(n):
        try:
            for _ in range(n):
                with store.transaction() as s:
                    got = q.next_crl_number(s, sign.id, "", T0)
                with lock:
                    numbers.append(got)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=generate, args=(15,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 31))  # distinct, gap-free, from 1
    with store.sessions() as s:
        assert q.crl_series(s, sign.id, "").last_number == 30


def test_each_partition_has_its_own_counter(store, authorities):
    sign, _ = authorities
    with store.transaction() as s:
        q.ensure_crl_series(s, sign.id, "p1", prefecture="東京都", municipality="千代田区")
        q.ensure_crl_series(s, sign.id, "p1", prefecture="東京都", municipality="千代田区")
        assert [q.next_crl_number(s, sign.id, "p1", T0) for _ in range(3)] == [1, 2, 3]
        assert q.next_crl_number(s, sign.id, "", T0) == 1
        parts = q.crl_partitions(s, sign.id)
    assert [(p.partition, p.prefecture, p.municipality) for p in parts] == [("p1", "東京都", "千代田区")]


@pytest.mark.parametrize("text_, expected", [
    ("1A2B", "1a2b"), ("0x1a2b", "1a2b"), ("00:1a:2b", "1a2b"), (" 0001 ", "1"), ("0", "0"),
])
def test_parse_serial_accepts_the_usual_spellings(text_, expected):
    assert parse_serial(text_) == expected


@pytest.mark.parametrize("bad", ["", "xyz", "0x", "12 34", "g1", "1" * 65])
def test_parse_serial_refuses_non_hex(bad):
    with pytest.raises(ValueError):
        parse_serial(bad)


def test_serial_hex_round_trip():
    n = (1 << 158) + 12345
    assert int(serial_hex(n), 16) == n and serial_hex(n) == serial_hex(n).lower()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    from openjpki.store import Store

    s = Store.open(f"sqlite:///{tmp_path}/sub/dir/x.sqlite3")
    with s.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    s.dispose()

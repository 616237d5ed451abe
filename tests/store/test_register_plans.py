"""On a populated PostgreSQL register (bench/register_load.py: residents with cards and both
certificates over 1,741 municipalities), the statements the counter, OCSP, CRL and notices
paths actually send are caught as they go out and explained: none of them scans a large
table sequentially."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from openjpki.store.testing import POSTGRES_SKIP_REASON, postgres_schema_url, postgres_url

BENCH = Path(__file__).resolve().parents[2] / "bench"
RESIDENTS = 30_000

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    if postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    sys.path.insert(0, str(BENCH))
    import register_load as rl

    from openjpki.services.authority import AuthorityService, initialise
    from openjpki.store import Store

    work = tmp_path_factory.mktemp("register")
    with postgres_schema_url(postgres_url()) as url:
        store = Store.open(url)
        store.migrate()
        initialise(store, work / "keys", b"plans", now=rl.NOW - timedelta(days=1))
        service = AuthorityService(store, keys_dir=work / "keys", passphrase=b"plans")
        ids = {a.kind: a.id for a in service.authorities()}
        where = rl.places()
        rl.load(store, RESIDENTS, where, rl.der_pool(service), ids)
        yield rl, store, service, work, where
        store.dispose()


@contextmanager
def caught(store):
    """The statements (and their parameters) sent through the store's engine meanwhile."""
    seen: list[tuple[str, object]] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", statement, re.I) and not executemany:
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)


def sequential_scans(store, statements, *, tuned: bool = False) -> list[str]:
    """Every 'Seq Scan on <large table>' in the plans of ``statements``."""
    found = []
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        # a table counts as large when it holds the register (tables the loader leaves nearly
        # empty, such as applications, are rightly read whole by the planner)
        cur.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > 10000 "
                    "AND relnamespace = current_schema()::regnamespace")
        large = {r[0] for r in cur.fetchall()}
        assert {"residents", "cards", "card_certificates", "certificates"} <= large
        if tuned:  # the notices batch plans its cursor with these settings (notices_select)
            for setting in ("cursor_tuple_fraction = 1.0", "jit = off", "enable_hashjoin = off",
                            "enable_mergejoin = off"):
                cur.execute(f"SET LOCAL {setting}")
        for statement, params in statements:
            cur.execute("EXPLAIN " + statement, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
            for table in large:
                if re.search(rf"Seq Scan on {table}\b", plan):
                    found.append(f"{table}: {statement[:160]}\n{plan}")
        raw.rollback()
    finally:
        raw.close()
    return found


def test_the_check_sees_a_sequential_scan(register):
    """The control: a filter on an unindexed column is reported."""
    _, store, _, _, _ = register
    found = sequential_scans(store, [("SELECT id FROM certificates WHERE subject_id = %(s)s",
                                      {"s": "A000000000000001"})])
    assert len(found) == 1 and found[0].startswith("certificates:")


def test_the_counter_path_is_indexed(register):
    rl, store, service, work, _ = register
    with caught(store) as seen:
        out = rl.time_counter(store, service, work, 2)
    assert out["n"] == 2 and len(seen) > 10
    assert sequential_scans(store, seen) == []


def test_the_ocsp_path_is_indexed(register):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from openjpki.pki import issuer_hashes
    from openjpki.services.authority_ocsp import OcspResponder

    rl, store, service, _, _ = register
    responder = OcspResponder(service)
    serial = f"a{RESIDENTS // 2:015x}"  # a row of the register (its DER is a pool's)
    name_hash, key_hash = issuer_hashes(service.root("auth"))["sha1"]
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash, key_hash, int(serial, 16), hashes.SHA1()).build()
    with caught(store) as seen:
        answer = responder.respond(request.public_bytes(serialization.Encoding.DER), rl.NOW)
        responder.sync()
    assert ocsp.load_der_ocsp_response(answer.der).certificate_status.name == "GOOD"
    assert seen and sequential_scans(store, seen) == []


def test_the_crl_paths_are_indexed(register):
    rl, store, service, work, where = register
    with caught(store) as seen:
        full = service.write_crl("sign", work / "sign.crl", now=rl.NOW + timedelta(hours=1))
        part = service.write_crl("sign", work / "p.crl", where[5][3], now=rl.NOW + timedelta(hours=1))
        service.crl("auth", now=rl.NOW + timedelta(hours=1))
    assert full.entries > RESIDENTS // 200 and 0 <= part.entries < full.entries
    assert seen and sequential_scans(store, seen) == []


def test_the_notices_selection_is_indexed(register):
    rl, store, _, _, _ = register
    from openjpki.services.notices_select import stream_due, tune_for_batch

    with caught(store) as seen:
        with store.engine.begin() as conn:
            tune_for_batch(conn)
            due = sum(1 for _ in stream_due(conn, rl.ON))
    assert due > 0 and seen
    assert sequential_scans(store, seen, tuned=True) == []

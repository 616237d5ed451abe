"""Bulk issuance (AuthorityService.issue_many): many certificates signed, then stored in ONE
transaction with one INSERT; nothing stored when any of them is refused or the caller's
transaction rolls back; superseding (R3.7) as for one certificate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from sqlalchemy import event, func, select

from openjpki.pki import partition_id
from openjpki.services.authority import AuthorityService, IssueRequest, initialise
from openjpki.services.authority_testing import PASSPHRASE, holder_key, sample_facts, seed_ca_keys
from openjpki.store import Certificate, CrlSeries
from openjpki.store.testing import open_test_store

T0 = datetime(2026, 4, 1, 1, 0, tzinfo=timezone.utc)
PLACES = [("東京都", "千代田区"), ("大阪府", "大阪市"), ("北海道", "札幌市")]


@pytest.fixture
def service(backend, tmp_path):
    keys = tmp_path / "keys"
    seed_ca_keys(keys)
    with open_test_store(backend, tmp_path) as store:
        initialise(store, keys, PASSPHRASE, now=T0 - timedelta(days=1))
        yield AuthorityService(store, keys_dir=keys, passphrase=PASSPHRASE)


def _requests(n: int, *, resident: bool = False) -> list[IssueRequest]:
    last = (T0 + timedelta(days=3 * 365)).date()
    out = []
    for i in range(n):
        pref, muni = PLACES[i % len(PLACES)]
        kind = "sign" if i % 2 == 0 else "auth"
        out.append(IssueRequest(kind, holder_key().public_key(), last,
                                prefecture=pref if kind == "sign" else None,
                                municipality=muni if kind == "sign" else None,
                                facts=sample_facts() if kind == "sign" else None,
                                resident_id=f"r{i // 2}" if resident else None))
    return out


def _count(service) -> int:
    with service.store.sessions() as s:
        return s.execute(select(func.count()).select_from(Certificate)).scalar_one()


def test_a_batch_is_one_transaction_and_one_insert(service):
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CERTIFICATES"):
            statements.append(executemany)

    event.listen(service.store.engine, "before_cursor_execute", seen)
    try:
        records = service.issue_many(_requests(30), now=T0)
    finally:
        event.remove(service.store.engine, "before_cursor_execute", seen)
    assert statements == [True]  # one executemany for the 30 rows
    assert len(records) == 30 == _count(service) == len({r.serial for r in records})
    roots = {k: service.root(k) for k in ("sign", "auth")}
    for r in records:
        stored = service.get(r.serial)
        assert stored.der == r.der and stored.status == "good"
        cert = x509.load_der_x509_certificate(r.der)
        cert.verify_directly_issued_by(roots[r.kind])
    assert sorted(service.partitions()) == sorted(partition_id(p, m) for p, m in PLACES)


def test_a_refused_request_stores_nothing(service):
    bad = _requests(4)
    bad[3] = IssueRequest("auth", holder_key().public_key(), (T0 + timedelta(days=30)).date(),
                          facts=sample_facts())  # AUTH carries no facts
    with pytest.raises(ValueError):
        service.issue_many(bad, now=T0)
    assert _count(service) == 0


def test_a_rolled_back_caller_transaction_leaves_no_row_and_no_partition(service):
    with pytest.raises(RuntimeError):
        with service.store.transaction() as s:
            service.issue_many(_requests(3), now=T0, session=s)
            raise RuntimeError("the procedure failed after issuing")
    assert _count(service) == 0
    with service.store.sessions() as s:
        assert s.execute(select(func.count()).select_from(CrlSeries)
                         .where(CrlSeries.partition != "")).scalar_one() == 0
    # the partitions are made again by the next issuance (nothing remembered from the rollback)
    service.issue_many(_requests(3), now=T0)
    assert len(service.partitions()) == 2


def test_a_batch_supersedes_the_holders_live_certificates(service):
    first = service.issue_many(_requests(6, resident=True), now=T0)
    again = service.issue_many(_requests(6, resident=True), now=T0 + timedelta(hours=1))
    for old in first:
        r = service.get(old.serial)
        assert (r.status, r.reason) == ("revoked", "superseded")
    assert {service.get(r.serial).status for r in again} == {"good"}
    with pytest.raises(ValueError, match="one certificate per holder"):
        service.issue_many(_requests(2, resident=True) * 2, now=T0)

"""A counter issuance is one transaction (R3.7 supersede, the certificate, its OCSP row, the
audit entry): a failure anywhere in it — after issuing, or at the commit itself once the audit
entry is chained — leaves no certificate, no OCSP row, no audit entry and the holder's old
certificate live; the next issuance then chains on the committed head."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from openjpki.services import audit
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.authority_testing import PASSPHRASE, holder_key, sample_facts, seed_ca_keys
from openjpki.store import Certificate, OcspResponse
from openjpki.store.audit import AuditEntry
from openjpki.store.testing import open_test_store

T0 = datetime(2026, 4, 1, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def service(backend, tmp_path):
    keys = tmp_path / "keys"
    seed_ca_keys(keys)
    with open_test_store(backend, tmp_path) as store:
        initialise(store, keys, PASSPHRASE, now=T0 - timedelta(days=1))
        yield AuthorityService(store, keys_dir=keys, passphrase=PASSPHRASE)


def counts(service) -> tuple[int, int, int]:
    with service.store.sessions() as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
                     for t in (Certificate, OcspResponse, AuditEntry))


def counter_issuance(service, at, *, fail_after_issue=False):
    with service.store.transaction() as s:
        rec = service.issue("sign", holder_key().public_key(), now=at, session=s,
                            last_valid_day=(at + timedelta(days=3 * 365)).date(), resident_id="r1",
                            prefecture="東京都", municipality="千代田区", facts=sample_facts())
        if fail_after_issue:
            raise RuntimeError("the card could not be written")
        audit.record(s, "counter.issuance", at, subject="resident:r1", serial=rec.serial)
    return rec


class CommitFails(Exception):
    pass


def test_a_failure_after_issuing_or_at_the_commit_leaves_nothing(service):
    old = counter_issuance(service, T0)
    before = counts(service)
    assert before == (1, 1, 1)
    with pytest.raises(RuntimeError):
        counter_issuance(service, T0 + timedelta(hours=1), fail_after_issue=True)
    assert counts(service) == before

    def fail(session: Session) -> None:  # runs after the audit entry was chained and inserted
        raise CommitFails()

    event.listen(Session, "before_commit", fail)
    try:
        with pytest.raises(CommitFails):
            counter_issuance(service, T0 + timedelta(hours=2))
    finally:
        event.remove(Session, "before_commit", fail)
    assert counts(service) == before
    assert service.get(old.serial).status == "good"  # its supersede (R3.7) rolled back too
    new = counter_issuance(service, T0 + timedelta(hours=3))
    assert counts(service) == (2, 2, 2)
    assert (service.get(old.serial).status, service.get(old.serial).reason) == ("revoked", "superseded")
    assert service.get(new.serial).status == "good"
    report = audit.verify(service.store)
    assert report.ok and report.entries == 2 and report.head_seq == 2, report

"""services.authority on SQLite and PostgreSQL: init (idempotent, keys outside the store),
issue, the R4.3 status changes, R3.7 supersession, atomicity and races, streamed CRLs."""

import os
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from sqlalchemy import select, text

from openjpki.pki import partition_id
from openjpki.services.authority import (
    AuthorityError, AuthorityService, TransitionRefused, UnknownCertificate, UnknownPartition,
    initialise,
)
from openjpki.services.authority_testing import PASSPHRASE, issue_sample, seed_ca_keys
from openjpki.store import Authority, Certificate
from openjpki.store.testing import open_test_store

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(backend, tmp_path):
    with open_test_store(backend, tmp_path) as s:
        yield s


@pytest.fixture
def keys(tmp_path):
    seed_ca_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def service(store, keys):
    initialise(store, keys, PASSPHRASE, now=T0)
    return AuthorityService(store, keys_dir=keys, passphrase=PASSPHRASE)


# --- init ----------------------------------------------------------------------------------

def test_init_twice_keeps_the_same_roots(store, keys):
    first = initialise(store, keys, PASSPHRASE, now=T0)
    second = initialise(store, keys, PASSPHRASE, now=T0 + timedelta(days=1))
    assert first == second
    assert first.sign.subject != first.auth.subject
    with store.sessions() as s:
        assert s.scalar(select(text("count(*)")).select_from(Authority)) == 2


def test_init_from_two_processes_at_once_agrees(store, keys):
    results, errors = [], []

    def run():
        try:
            results.append(initialise(store, keys, PASSPHRASE, now=T0))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results[0] == results[1]


def test_init_makes_encrypted_keys_0600_and_the_store_holds_none(store, tmp_path):
    keys = tmp_path / "fresh-keys"
    roots = initialise(store, keys, PASSPHRASE, now=T0)
    for name in ("sign-1.key", "auth-1.key"):
        path = keys / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    with store.sessions() as s:
        rows = s.scalars(select(Authority)).all()
        assert {r.key_file for r in rows} == {"sign-1.key", "auth-1.key"}
        for r in rows:
            dumped = repr(r.__dict__).encode() + r.root_der
            assert b"PRIVATE KEY" not in dumped and PASSPHRASE not in dumped
        assert {x509.load_der_x509_certificate(r.root_der) for r in rows} == {roots.sign, roots.auth}


def test_init_refuses_to_switch_environment(store, keys):
    initialise(store, keys, PASSPHRASE, now=T0)
    with pytest.raises(AuthorityError, match="test environment"):
        initialise(store, keys, PASSPHRASE, now=T0, environment="production")


def test_a_key_that_does_not_match_the_root_is_refused(store, keys, tmp_path):
    initialise(store, keys, PASSPHRASE, now=T0)
    other = tmp_path / "other"
    other.mkdir()
    os.rename(keys / "sign-1.key", other / "auth-1.key")  # the SIGN key where AUTH's belongs
    service = AuthorityService(store, keys_dir=other, passphrase=PASSPHRASE)
    from openjpki.services.authority_setup import SetupError
    with pytest.raises(SetupError, match="not the key"):
        issue_sample(service, "auth", now=T0)


# --- issue ---------------------------------------------------------------------------------

def test_issue_stores_what_it_signed(service):
    rec = issue_sample(service, "sign", now=T0, resident_id="R-1")
    cert = rec.certificate
    assert rec.serial == format(cert.serial_number, "x")
    assert (rec.kind, rec.status, rec.reason, rec.resident_id) == ("sign", "good", None, "R-1")
    assert rec.partition == partition_id("東京都", "千代田区")
    assert rec.not_after == cert.not_valid_after_utc and rec.not_before == T0
    cert.verify_directly_issued_by(service.root("sign"))
    assert service.get(rec.serial) == rec
    assert service.partitions() == [rec.partition]
    auth = issue_sample(service, "auth", now=T0)
    assert auth.partition is None
    auth.certificate.verify_directly_issued_by(service.root("auth"))


def test_duplicate_serial_is_refused_by_the_database(service, monkeypatch):
    first = issue_sample(service, "auth", now=T0)
    import openjpki.services.authority_issue as mod
    monkeypatch.setattr(mod, "new_serial", lambda: int(first.serial, 16))
    with pytest.raises(Exception) as info:
        issue_sample(service, "sign", now=T0)  # same serial, other authority
    assert "unique" in str(info.value).lower() or "duplicate" in str(info.value).lower()
    assert len(service.list()) == 1


# --- R4.3 status changes ------------------------------------------------------------------

R4_3_CASES = [
    # (steps before, action, expected status or refusal, expected reason)
    ([], ("revoke", "keyCompromise"), "revoked", "keyCompromise"),
    ([], ("hold", None), "hold", "certificateHold"),
    ([], ("revoke", "certificateHold"), "hold", "certificateHold"),
    ([("hold", None)], ("revoke", "cessationOfOperation"), "revoked", "cessationOfOperation"),
    ([("hold", None)], ("hold", None), "refused", "certificateHold"),
    ([("revoke", "superseded")], ("hold", None), "refused", "superseded"),
    ([("revoke", "superseded")], ("revoke", "keyCompromise"), "refused", "superseded"),
    ([("hold", None), ("revoke", "unspecified")], ("revoke", "keyCompromise"), "refused", "unspecified"),
]


@pytest.mark.parametrize("before, action, expected, reason", R4_3_CASES,
                         ids=[f"R4.3-{i}" for i in range(len(R4_3_CASES))])
def test_R4_3_transitions(service, before, action, expected, reason):
    rec = issue_sample(service, "sign", now=T0)
    at = T0
    for verb, why in before:
        at += timedelta(hours=1)
        (service.hold(rec.serial, at=at) if verb == "hold" else service.revoke(rec.serial, why, at=at))
    at += timedelta(hours=1)
    verb, why = action
    if expected == "refused":
        with pytest.raises(TransitionRefused) as info:
            service.hold(rec.serial, at=at) if verb == "hold" else service.revoke(rec.serial, why, at=at)
        assert info.value.refusal.rule == "R4.3"
        assert info.value.refusal.message_ja and info.value.refusal.message_en
        after = service.get(rec.serial)
        assert after.reason == reason  # nothing changed
        return
    after = service.hold(rec.serial, at=at) if verb == "hold" else service.revoke(rec.serial, why, at=at)
    assert (after.status, after.reason) == (expected, reason)
    assert service.get(rec.serial) == after


def test_R4_3_a_hold_that_becomes_a_revocation_keeps_the_hold_moment(service):
    rec = issue_sample(service, "auth", now=T0)
    held = service.hold(rec.serial, at=T0 + timedelta(days=1))
    revoked = service.revoke(rec.serial, "keyCompromise", at=T0 + timedelta(days=5))
    assert held.revoked_at == revoked.revoked_at == T0 + timedelta(days=1)
    entries = [e for e in x509.load_der_x509_crl(service.crl("auth", now=T0 + timedelta(days=6)).der)]
    assert len(entries) == 1 and entries[0].revocation_date_utc == T0 + timedelta(days=1)
    assert entries[0].extensions.get_extension_for_class(x509.CRLReason).value.reason \
        == x509.ReasonFlags.key_compromise


def test_unknown_serial_and_bad_serial(service):
    with pytest.raises(UnknownCertificate):
        service.revoke("abcdef", "keyCompromise", at=T0)
    with pytest.raises(ValueError):
        service.hold("not-hex", at=T0)


def test_R3_7_a_new_certificate_supersedes_the_residents_live_one(service):
    old_sign = issue_sample(service, "sign", now=T0, resident_id="R-7")
    old_auth = issue_sample(service, "auth", now=T0, resident_id="R-7")
    other = issue_sample(service, "sign", now=T0, resident_id="R-8")
    new_sign = issue_sample(service, "sign", now=T0 + timedelta(days=30), resident_id="R-7")
    got = service.get(old_sign.serial)
    assert (got.status, got.reason, got.revoked_at) == ("revoked", "superseded", T0 + timedelta(days=30))
    assert service.get(old_auth.serial).status == "good"  # another kind
    assert service.get(other.serial).status == "good"  # another resident
    assert service.get(new_sign.serial).status == "good"
    assert [r.serial for r in service.list(resident_id="R-7", status="good")] == \
        [old_auth.serial, new_sign.serial]


# --- atomicity and races ------------------------------------------------------------------

def test_revocation_is_atomic_with_the_callers_transaction(service):
    rec = issue_sample(service, "sign", now=T0)
    with pytest.raises(RuntimeError):
        with service.store.transaction() as s:
            service.revoke(rec.serial, "keyCompromise", at=T0, session=s)
            raise RuntimeError("the procedure failed after revoking")
    assert service.get(rec.serial).status == "good"
    with service.store.sessions() as s:
        assert s.scalar(select(Certificate.revoked_entry).where(Certificate.serial == rec.serial)) is None
        assert set(s.scalars(select(Authority.revision))) == {0}


def test_two_racing_revocations_one_wins_the_other_is_refused(service):
    rec = issue_sample(service, "sign", now=T0)
    outcomes, barrier = [], threading.Barrier(2)

    def run(reason):
        barrier.wait()
        try:
            outcomes.append(service.revoke(rec.serial, reason, at=T0).reason)
        except TransitionRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=run, args=(r,)) for r in ("keyCompromise", "superseded")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("refused") == 1
    (winner,) = [o for o in outcomes if o != "refused"]
    assert service.get(rec.serial).reason == winner


# --- CRLs ----------------------------------------------------------------------------------

def test_crls_stream_the_stored_entries_with_increasing_numbers(service):
    chiyoda = [issue_sample(service, "sign", now=T0) for _ in range(3)]
    minato = issue_sample(service, "sign", now=T0, municipality="港区")
    auth = issue_sample(service, "auth", now=T0)
    service.revoke(chiyoda[0].serial, "affiliationChanged", at=T0 + timedelta(hours=1))
    service.hold(chiyoda[1].serial, at=T0 + timedelta(hours=2))
    service.revoke(minato.serial, "keyCompromise", at=T0 + timedelta(hours=3))
    now = T0 + timedelta(days=1)
    full = service.crl("sign", now=now)
    crl = x509.load_der_x509_crl(full.der)
    assert full.entries == 3 and len(crl) == 3
    assert {format(e.serial_number, "x") for e in crl} == {chiyoda[0].serial, chiyoda[1].serial, minato.serial}
    assert crl.is_signature_valid(service.root("sign").public_key())
    assert crl.next_update_utc - crl.last_update_utc == timedelta(hours=24)
    part = service.crl("sign", chiyoda[0].partition, now=now)
    assert part.entries == 2
    assert {format(e.serial_number, "x") for e in x509.load_der_x509_crl(part.der)} == \
        {chiyoda[0].serial, chiyoda[1].serial}
    assert service.crl("auth", now=now).entries == 0
    numbers = [full.number, service.crl("sign", now=now).number, service.crl("sign", now=now).number]
    assert numbers == sorted(set(numbers)) and numbers[0] >= 1
    assert part.number == 1  # a series of its own
    with pytest.raises(UnknownPartition):
        service.crl("sign", "0000000000000000", now=now)
    with pytest.raises(UnknownPartition):
        service.crl("auth", chiyoda[0].partition, now=now)
    assert auth.status == "good"


def test_crl_numbers_strictly_increase_under_concurrent_generation(service):
    numbers, errors = [], []

    def run():
        try:
            for _ in range(4):
                der = service.crl("sign", now=T0 + timedelta(hours=1)).der
                numbers.append(x509.load_der_x509_crl(der).extensions
                               .get_extension_for_class(x509.CRLNumber).value.crl_number)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(numbers) == list(range(1, 9))


def test_crl_validity_is_configurable(service):
    crl = service.crl("auth", now=T0, validity=timedelta(hours=6))
    assert crl.next_update - crl.this_update == timedelta(hours=6)

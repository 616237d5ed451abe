"""Pre-produced OCSP (services.ocsp_producer, OcspResponder.stored): what the producer signs
says what a response signed at the request would say, a status change reaches the answers
within the sync even while the producer is busy, a stale write never lands, and a producer
that stops resumes without re-signing what is fresh. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import select

from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.authority_ocsp import OcspResponder
from openjpki.services.authority_testing import PASSPHRASE, issue_sample, seed_ca_keys
from openjpki.services.ocsp_producer import OcspProducer
from openjpki.store import OcspResponse
from openjpki.store import ocsp_queries as oq
from openjpki.store.testing import open_test_store

T0 = datetime(2026, 4, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@pytest.fixture
def service(backend, tmp_path):
    seed_ca_keys(tmp_path / "keys")
    with open_test_store(backend, tmp_path) as store:
        initialise(store, tmp_path / "keys", PASSPHRASE, now=T0 - timedelta(days=1))
        yield AuthorityService(store, keys_dir=tmp_path / "keys", passphrase=PASSPHRASE)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def request_for(record, issuer) -> bytes:
    return ocsp.OCSPRequestBuilder().add_certificate(record.certificate, issuer, hashes.SHA1()).build() \
        .public_bytes(serialization.Encoding.DER)


def cert_status_der(der: bytes) -> bytes:
    """The certStatus of the one SingleResponse, as encoded."""
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    return basic["tbs_response_data"]["responses"][0]["cert_status"].dump()


def population(service):
    """Good, held and revoked (several reasons) certificates of both authorities."""
    records = {}
    for kind in ("sign", "auth"):
        for label in ("good", "hold", "keyCompromise", "superseded", "unspecified"):
            rec = issue_sample(service, kind, now=T0 - timedelta(hours=5))
            if label == "hold":
                rec = service.hold(rec.serial, at=T0 - timedelta(hours=3))
            elif label != "good":
                rec = service.revoke(rec.serial, label, at=T0 - timedelta(hours=2))
            records[(kind, label)] = rec
    return records


def test_preproduced_answers_state_what_fresh_ones_state(service):
    records = population(service)
    clock = Clock(T0)
    report = OcspProducer(service, validity=HOUR, clock=clock, seed=1).produce()
    assert report.signed == len(records) and report.due_after == {"sign-1": 0, "auth-1": 0}
    stored = OcspResponder(service, validity=HOUR)
    stored.sync()
    fresh = OcspResponder(service, validity=HOUR)
    fresh.sync()
    fresh.stored = lambda request, now: None  # signs every answer at the request
    for (kind, label), rec in records.items():
        issuer = service.root(kind)
        request = request_for(rec, issuer)
        pre = stored.stored(request, T0 + timedelta(minutes=5))
        assert pre is not None, (kind, label)
        new = fresh.respond(request, T0 + timedelta(minutes=5))
        assert pre.der != new.der  # signed at different moments…
        assert cert_status_der(pre.der) == cert_status_der(new.der), (kind, label)  # …same status bytes
        a = ocsp.load_der_ocsp_response(pre.der)
        b = ocsp.load_der_ocsp_response(new.der)
        assert a.serial_number == b.serial_number == rec.certificate.serial_number
        assert (a.issuer_name_hash, a.issuer_key_hash) == (b.issuer_name_hash, b.issuer_key_hash)
        assert a.responder_key_hash == b.responder_key_hash
        assert a.certificate_status == b.certificate_status
        assert a.revocation_reason == b.revocation_reason and a.revocation_time_utc == b.revocation_time_utc
        assert a.this_update_utc == T0 and a.next_update_utc == T0 + HOUR
        issuer.public_key().verify(a.signature, a.tbs_response_bytes, *_rsa(a))
        # served from memory afterwards, the same object
        assert stored.cached(request, T0 + timedelta(minutes=6)) is pre


def _rsa(resp):
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15(), resp.signature_hash_algorithm


def test_not_served_near_next_update_nor_before_this_update(service):
    rec = issue_sample(service, "auth", now=T0 - HOUR)
    OcspProducer(service, validity=HOUR, clock=Clock(T0)).produce()
    r = OcspResponder(service, validity=HOUR)
    r.sync()
    request = request_for(rec, service.root("auth"))
    assert r.stored(request, T0 - timedelta(seconds=1)) is None  # the sandbox clock went back
    assert r.stored(request, T0 + timedelta(minutes=53)) is None  # under an eighth of the hour left
    assert r.stored(request, T0 + timedelta(minutes=52)) is not None
    # respond() then signs one itself
    answer = r.respond(request, T0 + timedelta(minutes=55))
    assert ocsp.load_der_ocsp_response(answer.der).this_update_utc == T0 + timedelta(minutes=55)


class SlowSigner:
    """The authority's signer, slowed (a busy HSM): the producer stays at work for a while."""

    def __init__(self, inner, delay: float) -> None:
        self.inner, self.delay = inner, delay

    def public_key(self):
        return self.inner.public_key()

    def sign(self, data: bytes) -> bytes:
        time.sleep(self.delay)
        return self.inner.sign(data)


def test_a_revocation_is_answered_revoked_within_the_sync_while_the_producer_is_busy(service, tmp_path):
    target = issue_sample(service, "auth", now=T0 - HOUR)
    OcspProducer(service, validity=HOUR, clock=Clock(T0)).produce()
    for _ in range(60):  # more work for the producer than the test lasts
        issue_sample(service, "auth", now=T0 - HOUR)
    responder = OcspResponder(service, validity=HOUR)
    responder.sync()
    request = request_for(target, service.root("auth"))
    assert ocsp.load_der_ocsp_response(responder.stored(request, T0).der).certificate_status \
        == ocsp.OCSPCertStatus.GOOD
    # the producer signs slowly, in its own service (another process, as serve's thread is)
    other = AuthorityService(service.store, keys_dir=tmp_path / "keys", passphrase=PASSPHRASE)
    a = other.current("auth")
    other._signers[a.id] = SlowSigner(other.signer(a.id), 0.05)
    producer = OcspProducer(other, validity=HOUR, clock=Clock(T0), batch=8)
    stop = threading.Event()
    worker = threading.Thread(target=producer.run, args=(stop,), kwargs={"idle": 0.05})
    worker.start()
    try:
        time.sleep(0.2)
        # revoked by a third party (a CLI in another process): only the store says so
        AuthorityService(service.store, keys_dir=tmp_path / "keys", passphrase=PASSPHRASE) \
            .revoke(target.serial, "keyCompromise", at=T0 + timedelta(minutes=1))
        assert sum(producer.due().values()) > 0  # still at work
        assert responder.cached(request, T0 + timedelta(minutes=1)) is not None  # until the sync
        responder.sync()  # what the web layer runs every sync interval
        answer = responder.respond(request, T0 + timedelta(minutes=1))
        resp = ocsp.load_der_ocsp_response(answer.der)
        assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_reason == x509.ReasonFlags.key_compromise
    finally:
        stop.set()
        worker.join(30)
    # the producer re-signed it as revoked once done
    OcspProducer(service, validity=HOUR, clock=Clock(T0 + timedelta(minutes=2))).produce()
    fresh = OcspResponder(service, validity=HOUR)
    fresh.sync()
    stored = fresh.stored(request, T0 + timedelta(minutes=3))
    assert ocsp.load_der_ocsp_response(stored.der).certificate_status == ocsp.OCSPCertStatus.REVOKED


def test_a_response_read_before_a_change_never_lands_after_it(service):
    rec = issue_sample(service, "auth", now=T0 - HOUR)
    a = service.current("auth")
    with service.store.engine.begin() as conn:
        claimed = oq.claim_due(conn, a.id, 0 + int(T0.timestamp()), int(T0.timestamp()) + 60, 10)
        before = oq.statuses(conn, claimed)
    assert [s.serial for s in before] == [rec.serial] and before[0].status == "good"
    service.revoke(rec.serial, "keyCompromise", at=T0)  # commits between the read and the write
    with service.store.engine.begin() as conn:
        oq.store_produced(conn, [{"k_serial": rec.serial, "k_seq": before[0].change_seq, "k_der": b"stale",
                                  "k_this": 1, "k_next": 2, "k_refresh": 3}])
    with service.store.engine.connect() as conn:
        row = conn.execute(select(OcspResponse).where(OcspResponse.serial == rec.serial)).one()
    assert row.der is None and row.refresh_at == 0  # emptied by the change, due at once


def test_a_stopped_producer_resumes_without_re_signing_what_is_fresh(service):
    records = [issue_sample(service, "auth", now=T0 - HOUR) for _ in range(6)]
    clock = Clock(T0)
    first = OcspProducer(service, validity=HOUR, clock=clock, batch=2)
    assert first.produce(limit=2).signed == 2
    # a producer that claimed two more and crashed before writing them
    a = service.current("auth")
    with service.store.engine.begin() as conn:
        leased = oq.claim_due(conn, a.id, int(T0.timestamp()), int(T0.timestamp()) + 120, 2)
    assert len(leased) == 2
    with service.store.engine.connect() as conn:
        signed_before = dict(conn.execute(select(OcspResponse.serial, OcspResponse.der)
                                          .where(OcspResponse.der.is_not(None))).all())
    clock.now = T0 + timedelta(seconds=30)
    again = OcspProducer(service, validity=HOUR, clock=clock).produce()
    assert again.signed == 2  # the two nobody had, not the fresh ones nor the leased ones
    clock.now = T0 + timedelta(minutes=3)  # the crashed producer's lease is over
    assert OcspProducer(service, validity=HOUR, clock=clock).produce().signed == 2
    with service.store.engine.connect() as conn:
        now_signed = dict(conn.execute(select(OcspResponse.serial, OcspResponse.der)).all())
    assert all(now_signed[s] == der for s, der in signed_before.items())  # never re-signed
    assert all(now_signed[r.serial] for r in records)
    assert OcspProducer(service, validity=HOUR, clock=clock).due() == {"sign-1": 0, "auth-1": 0}
    # due again between a half and three quarters of the validity
    clock.now = T0 + timedelta(minutes=29, seconds=59)
    assert OcspProducer(service, validity=HOUR, clock=clock).due()["auth-1"] == 0
    clock.now = T0 + timedelta(minutes=48, seconds=1)  # the last were signed at T0 + 3 min
    assert OcspProducer(service, validity=HOUR, clock=clock).due()["auth-1"] == 6


def test_unknown_serials_are_answered_as_configured(service):
    rec = issue_sample(service, "auth", now=T0 - HOUR)
    issuer = service.root("auth")
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        rec.certificate.issuer.public_bytes() and _hashes(issuer)[0], _hashes(issuer)[1], 0x1234567, hashes.SHA1())
    request = builder.build().public_bytes(serialization.Encoding.DER)
    OcspProducer(service, validity=HOUR, clock=Clock(T0)).produce()
    unknown = OcspResponder(service, validity=HOUR)
    unknown.sync()
    assert unknown.stored(request, T0) is None  # signed on demand
    resp = ocsp.load_der_ocsp_response(unknown.respond(request, T0).der)
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    strict = OcspResponder(service, validity=HOUR, unknown="unauthorized")
    strict.sync()
    assert strict.stored(request, T0).status == "unauthorized"
    assert strict.respond(request, T0).status == "unauthorized"
    assert ocsp.load_der_ocsp_response(strict.respond(request, T0).der).response_status \
        == ocsp.OCSPResponseStatus.UNAUTHORIZED
    # an issued certificate is still answered
    assert strict.stored(request_for(rec, issuer), T0).status == "successful"


def _hashes(issuer):
    from openjpki.pki import issuer_hashes

    return issuer_hashes(issuer)["sha1"]

"""The OCSP responder and the CRL cache of services.authority_ocsp / _publish: statuses,
issuer matching across both authorities, errors, caching and invalidation across processes,
nonces, refresh before expiry (RFC 6960, RFC 5019)."""

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from openjpki.pki import issuer_hashes
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.authority_ocsp import OcspResponder
from openjpki.services.authority_publish import CrlCache
from openjpki.services.authority_testing import PASSPHRASE, issue_sample, seed_ca_keys
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

T0 = datetime(2026, 4, 1, tzinfo=timezone.utc)


def _service(backend, tmp_path):
    if backend == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    seed_ca_keys(tmp_path / "keys")
    with open_test_store(backend, tmp_path) as store:
        initialise(store, tmp_path / "keys", PASSPHRASE, now=T0)
        yield AuthorityService(store, keys_dir=tmp_path / "keys", passphrase=PASSPHRASE)


@pytest.fixture
def service(tmp_path):
    yield from _service("sqlite", tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_service(request, tmp_path):
    """For the tests whose queries differ by backend (revisions, changes since)."""
    yield from _service(request.param, tmp_path)


@pytest.fixture
def responder(service):
    r = OcspResponder(service, validity=timedelta(hours=1))
    service.add_change_listener(r.sync)
    return r


def request_for(record, issuer, *, algorithm=hashes.SHA1(), nonce=None):
    b = ocsp.OCSPRequestBuilder().add_certificate(record.certificate, issuer, algorithm)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def parse(der, issuer):
    resp = ocsp.load_der_ocsp_response(der)
    if resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
        issuer.public_key().verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(),
                                   resp.signature_hash_algorithm)
    return resp


@pytest.mark.parametrize("kind", ["sign", "auth"])
@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()], ids=["sha1", "sha256"])
def test_one_responder_answers_for_both_authorities(service, responder, kind, algorithm):
    rec = issue_sample(service, kind, now=T0)
    issuer = service.root(kind)
    resp = parse(responder.respond(request_for(rec, issuer, algorithm=algorithm), T0).der, issuer)
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.serial_number == rec.certificate.serial_number
    assert resp.this_update_utc == T0 and resp.next_update_utc == T0 + timedelta(hours=1)


@pytest.mark.parametrize("action, reason", [
    ("hold", x509.ReasonFlags.certificate_hold),          # R4.3: a hold is revoked/certificateHold
    ("keyCompromise", x509.ReasonFlags.key_compromise),
    ("unspecified", None),                                # RFC 5280: no reason code
])
def test_revoked_and_held_certificates(service, responder, action, reason):
    rec = issue_sample(service, "sign", now=T0)
    issuer = service.root("sign")
    req = request_for(rec, issuer)
    assert parse(responder.respond(req, T0).der, issuer).certificate_status == ocsp.OCSPCertStatus.GOOD
    at = T0 + timedelta(minutes=5)
    service.hold(rec.serial, at=at) if action == "hold" else service.revoke(rec.serial, action, at=at)
    resp = parse(responder.respond(req, T0 + timedelta(minutes=6)).der, issuer)  # replaced at once
    assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_time_utc == at and resp.revocation_reason == reason


def test_unknown_serial_under_our_issuer_is_unknown(service, responder):
    rec = issue_sample(service, "auth", now=T0)
    req = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *_hashes_of(service.root("auth")), 0x1234567, hashes.SHA1()).build()
    resp = parse(responder.respond(req.public_bytes(serialization.Encoding.DER), T0).der,
                 service.root("auth"))
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    # a serial of the *other* authority asked under this issuer is unknown too
    other = issue_sample(service, "sign", now=T0)
    req = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *_hashes_of(service.root("auth")), other.certificate.serial_number, hashes.SHA1()).build()
    resp = parse(responder.respond(req.public_bytes(serialization.Encoding.DER), T0).der,
                 service.root("auth"))
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert rec.status == "good"


def _hashes_of(issuer):
    name_hash, key_hash = issuer_hashes(issuer)["sha1"]
    return name_hash, key_hash


def test_a_foreign_issuer_is_unauthorized(service, responder):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not ours")])
    foreign = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(5)
               .not_valid_before(T0).not_valid_after(T0 + timedelta(days=1))
               .sign(key, hashes.SHA256()))
    req = ocsp.OCSPRequestBuilder().add_certificate(foreign, foreign, hashes.SHA1()).build()
    resp = ocsp.load_der_ocsp_response(responder.respond(req.public_bytes(serialization.Encoding.DER), T0).der)
    assert resp.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize("body", [b"", b"\x00", b"garbage", b"\x30\x03\x02\x01", b"\x30" * 5000])
def test_malformed_requests(responder, body):
    answer = responder.respond(body, T0)
    assert ocsp.load_der_ocsp_response(answer.der).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert len(responder) == 0


def test_answers_are_cached_by_request_bytes_and_refreshed_before_expiry(service, responder):
    rec = issue_sample(service, "auth", now=T0)
    req = request_for(rec, service.root("auth"))
    first = responder.respond(req, T0)
    assert responder.cached(req, T0 + timedelta(minutes=44)) is first
    assert responder.respond(req, T0 + timedelta(minutes=44)).der == first.der
    # a quarter of the validity left: signed anew
    later = responder.respond(req, T0 + timedelta(minutes=46))
    assert later.der != first.der and later.this_update == T0 + timedelta(minutes=46)
    # a clock set back (sandbox time) never gets an answer from its future
    assert responder.cached(req, T0) is None
    assert responder.respond(req, T0).this_update == T0


def test_a_nonce_gets_a_fresh_answer_that_echoes_it(service, responder):
    rec = issue_sample(service, "sign", now=T0)
    issuer = service.root("sign")
    a = responder.respond(request_for(rec, issuer, nonce=b"0123456789abcdef"), T0)
    b = responder.respond(request_for(rec, issuer, nonce=b"fedcba9876543210"), T0)
    assert not a.cacheable and len(responder) == 0
    ra, rb = parse(a.der, issuer), parse(b.der, issuer)
    assert ra.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    assert rb.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"fedcba9876543210"


def test_changes_from_another_process_are_seen_at_the_next_sync(any_service):
    service = any_service
    responder = OcspResponder(service)
    rec = issue_sample(service, "auth", now=T0)
    req = request_for(rec, service.root("auth"))
    responder.respond(req, T0)
    other = AuthorityService(service.store, keys_dir=service.keys_dir, passphrase=PASSPHRASE)
    other.revoke(rec.serial, "cessationOfOperation", at=T0 + timedelta(minutes=1))  # not notified
    stale = ocsp.load_der_ocsp_response(responder.respond(req, T0 + timedelta(minutes=2)).der)
    assert stale.certificate_status == ocsp.OCSPCertStatus.GOOD  # still the cached answer
    assert responder.sync() is True
    fresh = ocsp.load_der_ocsp_response(responder.respond(req, T0 + timedelta(minutes=2)).der)
    assert fresh.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert responder.sync() is False


def test_crl_cache_regenerates_after_a_change_and_when_stale(service, responder):
    crls = CrlCache(service, responder.revision)
    rec = issue_sample(service, "auth", now=T0)
    first = crls.get("auth", None, T0)
    assert crls.get("auth", None, T0 + timedelta(hours=1)) is first
    service.revoke(rec.serial, "keyCompromise", at=T0 + timedelta(hours=2))
    second = crls.get("auth", None, T0 + timedelta(hours=2))
    assert second.number > first.number and second.entries == 1
    assert crls.get("auth", None, T0 + timedelta(hours=17)) is second
    third = crls.get("auth", None, T0 + timedelta(hours=21))  # < 1/4 of 24 h left
    assert third.number > second.number

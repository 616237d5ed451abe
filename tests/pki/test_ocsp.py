"""OCSP (RFC 6960, RFC 5019 profile), answered by the issuing authority itself."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp as cocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from openjpki.pki import (
    CertStatus,
    Kind,
    OcspCertId,
    OcspMalformed,
    build_ocsp_response,
    issuer_hashes,
    ocsp_error_response,
    parse_ocsp_request,
)

from .helpers import openssl, write_pem
from .lint import lint_ocsp_response

R = x509.ReasonFlags
# openssl ocsp checks thisUpdate/nextUpdate against its own clock, so these tests inject
# the real time (the library itself never reads it).
REAL_NOW = datetime.now(timezone.utc).replace(microsecond=0)
STATUSES = {
    "good": CertStatus.good(),
    "unknown": CertStatus.unknown(),
    "revoked": CertStatus.revoked(REAL_NOW - timedelta(days=2), R.key_compromise),
    "hold": CertStatus.revoked(REAL_NOW - timedelta(days=1), R.certificate_hold),
    "revoked-no-reason": CertStatus.revoked(REAL_NOW - timedelta(days=1)),
}


@pytest.fixture()
def files(issue, roots, tmp_path):
    """A SIGN certificate, its test root, and openssl-made requests for it."""
    cert = issue(Kind.SIGN)
    root = roots[(Kind.SIGN, "test")]
    root_pem = write_pem(tmp_path / "root.pem", root)
    cert_pem = write_pem(tmp_path / "cert.pem", cert)
    return cert, root, root_pem, cert_pem, tmp_path


def make_request(root_pem, cert_pem, out, *extra, digest=None):
    args = ["ocsp", "-issuer", str(root_pem)]
    if digest:
        args.append(f"-{digest}")  # must come before -cert
    args += ["-cert", str(cert_pem), *extra, "-reqout", str(out)]
    result = openssl(*args)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


@pytest.mark.interop
@pytest.mark.parametrize("digest", [None, "sha256"])
@pytest.mark.parametrize("nonce", [True, False])
def test_requests_made_by_openssl_parse(files, digest, nonce):
    cert, root, root_pem, cert_pem, tmp = files
    extra = () if nonce else ("-no_nonce",)
    req = make_request(root_pem, cert_pem, tmp / "req.der", *extra, digest=digest)
    info = parse_ocsp_request(req)
    (cid,) = info.cert_ids
    assert cid.serial == cert.serial_number
    assert cid.hash_algorithm == (digest or "sha1")
    assert cid.matches(issuer_hashes(root))
    reference = cocsp.load_der_ocsp_request(req)
    assert (cid.issuer_name_hash, cid.issuer_key_hash) == (reference.issuer_name_hash, reference.issuer_key_hash)
    if nonce:
        assert info.nonce == reference.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        assert len(info.nonce) == 16
    else:
        assert info.nonce is None


@pytest.mark.interop
def test_a_request_for_several_certificates_parses(files, issue):
    cert, root, root_pem, cert_pem, tmp = files
    other = write_pem(tmp / "other.pem", issue(Kind.SIGN, key=3))
    result = openssl("ocsp", "-issuer", str(root_pem), "-cert", str(cert_pem), "-cert", str(other),
                     "-reqout", str(tmp / "req.der"))
    assert result.returncode == 0, result.stderr
    info = parse_ocsp_request((tmp / "req.der").read_bytes())
    assert [c.serial for c in info.cert_ids][0] == cert.serial_number and len(info.cert_ids) == 2


@pytest.mark.interop
@pytest.mark.parametrize("state", list(STATUSES))
@pytest.mark.parametrize("nonce", [True, False])
def test_openssl_reads_the_status_of_responses_we_build(files, signers, state, nonce):
    cert, root, root_pem, cert_pem, tmp = files
    extra = () if nonce else ("-no_nonce",)
    req = make_request(root_pem, cert_pem, tmp / "req.der", *extra)
    info = parse_ocsp_request(req)
    resp = build_ocsp_response(issuer=root, signer=signers[Kind.SIGN], cert_id=info.cert_ids[0],
                               status=STATUSES[state], this_update=REAL_NOW - timedelta(minutes=1),
                               next_update=REAL_NOW + timedelta(days=1), produced_at=REAL_NOW, nonce=info.nonce)
    (tmp / "resp.der").write_bytes(resp)
    # -reqin alone: openssl checks the response against the very request (nonce included)
    result = openssl("ocsp", "-reqin", str(tmp / "req.der"), "-respin", str(tmp / "resp.der"),
                     "-issuer", str(root_pem), "-CAfile", str(root_pem), "-resp_text")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Response verify OK" in out
    assert "Nonce Verify error" not in out and "WARNING" not in out
    expected = {"good": "good", "unknown": "unknown"}.get(state, "revoked")
    assert f"Cert Status: {expected}" in out
    assert f"Serial Number: {cert.serial_number:X}" in out
    reason = {"revoked": "keyCompromise (0x1)", "hold": "certificateHold (0x6)"}.get(state)
    assert (f"Revocation Reason: {reason}" in out) if reason else ("Revocation Reason" not in out)
    assert ("OCSP Nonce" in out) is nonce
    # byKey (a 40-hex-digit key hash), not byName ("C = JP, O = …")
    assert re.search(r"Responder Id: [0-9A-F]{40}\s", out), out
    # and with the certificate named, openssl's own summary line
    summary = openssl("ocsp", "-respin", str(tmp / "resp.der"), "-issuer", str(root_pem), "-CAfile",
                      str(root_pem), "-cert", str(cert_pem), "-no_nonce")
    assert summary.returncode == 0, summary.stdout + summary.stderr
    assert summary.stdout.split(f"{cert_pem}: ", 1)[1].splitlines()[0].strip() == expected
    assert lint_ocsp_response(resp) == []


@pytest.mark.parametrize("state", list(STATUSES))
def test_responses_read_back_with_cryptography(issue, roots, signers, state):
    cert, root = issue(Kind.AUTH), roots[(Kind.AUTH, "test")]
    name_hash, key_hash = issuer_hashes(root)["sha256"]
    cid = OcspCertId("sha256", name_hash, key_hash, cert.serial_number)
    resp = cocsp.load_der_ocsp_response(build_ocsp_response(
        issuer=root, signer=signers[Kind.AUTH], cert_id=cid, status=STATUSES[state],
        this_update=REAL_NOW, next_update=REAL_NOW + timedelta(hours=12), produced_at=REAL_NOW, nonce=b"\x01" * 32))
    assert resp.response_status is cocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.responder_key_hash == hashlib.sha1(_key_bits(root)).digest() and resp.responder_name is None
    assert resp.serial_number == cert.serial_number and isinstance(resp.hash_algorithm, hashes.SHA256)
    assert resp.issuer_key_hash == key_hash
    assert resp.this_update_utc == REAL_NOW and resp.next_update_utc == REAL_NOW + timedelta(hours=12)
    assert resp.produced_at_utc == REAL_NOW
    assert resp.certificates == []
    expected = STATUSES[state]
    assert resp.certificate_status.name.lower() == expected.state
    if expected.state == "revoked":
        assert resp.revocation_time_utc == expected.revoked_at
        assert resp.revocation_reason == expected.reason
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"\x01" * 32
    root.public_key().verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())


def _key_bits(cert):
    from openjpki.pki.ocsp import _key_bits as bits

    return bits(cert)


def test_issuer_hashes_follow_rfc6960(roots):
    root = roots[(Kind.SIGN, "test")]
    spki = root.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    hashes_ = issuer_hashes(root)
    assert set(hashes_) == {"sha1", "sha256"}
    assert hashes_["sha1"][0] == hashlib.sha1(root.subject.public_bytes()).digest()
    assert hashes_["sha256"][1] == hashlib.sha256(spki[-270:]).digest()  # the RSA-2048 key bits
    assert hashes_["sha1"][1] == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


@pytest.mark.interop
@pytest.mark.parametrize("status,code", [("malformedRequest", 1), ("internalError", 2), ("tryLater", 3),
                                         ("sigRequired", 5), ("unauthorized", 6)])
def test_error_responses(tmp_path, status, code):
    der_ = ocsp_error_response(status)
    assert der_ == bytes([0x30, 0x03, 0x0A, 0x01, code])
    assert cocsp.load_der_ocsp_response(der_).response_status.value == code
    (tmp_path / "e.der").write_bytes(der_)
    result = openssl("ocsp", "-respin", str(tmp_path / "e.der"), "-resp_text")
    assert f"Responder Error: {status.lower()} ({code})" in result.stdout + result.stderr


def test_unknown_error_status_is_refused():
    for bad in ("successful", "teapot"):
        with pytest.raises(ValueError):
            ocsp_error_response(bad)


GARBAGE = [b"", b"\x00", b"\x30\x00", b"\x30\x03\x30\x01\x00", b"GET / HTTP/1.1\r\n", b"\x30\x80\x00\x00",
           b"\x30\x84\xff\xff\xff\xff", bytes(range(256))]


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_is_malformed(data):
    with pytest.raises(OcspMalformed):
        parse_ocsp_request(data)


@pytest.mark.interop
def test_truncated_padded_or_wrong_documents_are_malformed(files):
    cert, root, root_pem, cert_pem, tmp = files
    req = make_request(root_pem, cert_pem, tmp / "req.der")
    for data in (req[:-1], req + b"\x00", req[:10], cert.public_bytes(serialization.Encoding.DER), b"\x00" * 70000):
        with pytest.raises(OcspMalformed):
            parse_ocsp_request(data)
    with pytest.raises(OcspMalformed):
        parse_ocsp_request("not bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_are_malformed(data):
    try:
        info = parse_ocsp_request(data)
    except OcspMalformed:
        return
    assert info.cert_ids


@pytest.mark.parametrize("kwargs", [
    dict(state="revoked"),
    dict(state="good", revoked_at=REAL_NOW),
    dict(state="maybe"),
    dict(state="revoked", revoked_at=REAL_NOW, reason=R.remove_from_crl),
    dict(state="revoked", revoked_at=REAL_NOW.replace(tzinfo=None)),
])
def test_impossible_statuses_are_refused(kwargs):
    with pytest.raises(ValueError):
        CertStatus(**kwargs)


def test_response_refuses_inverted_times_and_huge_nonces(roots, signers):
    root = roots[(Kind.SIGN, "test")]
    cid = OcspCertId("sha1", *issuer_hashes(root)["sha1"], serial=5)
    args = dict(issuer=root, signer=signers[Kind.SIGN], cert_id=cid, status=CertStatus.good(), produced_at=REAL_NOW)
    with pytest.raises(ValueError, match="next_update"):
        build_ocsp_response(this_update=REAL_NOW, next_update=REAL_NOW, **args)
    with pytest.raises(ValueError, match="nonce"):
        build_ocsp_response(this_update=REAL_NOW, next_update=REAL_NOW + timedelta(hours=1), nonce=b"x" * 129, **args)

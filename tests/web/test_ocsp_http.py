"""POST /ocsp and GET /ocsp/{base64} through the app: media types, RFC 5019 caching
headers, every encoding of the GET path, and malformed input of every kind answered with
malformedRequest (HTTP 200, never a 500)."""

import base64
import urllib.parse
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from openjpki.services.authority_testing import issue_sample

OCSP_REQUEST = {"content-type": "application/ocsp-request"}


def der_request(record, issuer, nonce=None):
    b = ocsp.OCSPRequestBuilder().add_certificate(record.certificate, issuer, hashes.SHA1())
    if nonce:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def status_of(response):
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content)


@pytest.fixture
def good(authority, clock):
    rec = issue_sample(authority, "auth", now=clock.now - timedelta(hours=1))
    return rec, der_request(rec, authority.root("auth"))


def test_post_good_then_revoked_at_once(client, authority, clock, good):
    rec, req = good
    resp = status_of(client.post("/ocsp", content=req, headers=OCSP_REQUEST))
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert "cache-control" not in client.post("/ocsp", content=req).headers
    authority.hold(rec.serial, at=clock.now)  # another service object: seen at the next sync
    resp = status_of(client.post("/ocsp", content=req, headers=OCSP_REQUEST))
    assert (resp.certificate_status, resp.revocation_reason) == \
        (ocsp.OCSPCertStatus.REVOKED, x509.ReasonFlags.certificate_hold)


def _encodings(req):
    std = base64.b64encode(req).decode()
    return {
        "standard": std,
        "percent-encoded": urllib.parse.quote(std, safe=""),
        "url-safe": base64.urlsafe_b64encode(req).decode(),
        "url-safe-unpadded": base64.urlsafe_b64encode(req).decode().rstrip("="),
    }


@pytest.mark.parametrize("encoding", ["standard", "percent-encoded", "url-safe", "url-safe-unpadded"])
def test_get_accepts_every_base64_spelling_with_rfc5019_cache_headers(client, clock, good, encoding):
    rec, req = good
    r = client.get("/ocsp/" + _encodings(req)[encoding])
    resp = status_of(r)
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    max_age = int(r.headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= (resp.next_update_utc - clock.now).total_seconds()
    assert "public" in r.headers["cache-control"]
    assert r.headers["etag"] and r.headers["last-modified"] and r.headers["expires"]


def test_get_with_nonce_is_not_cacheable(client, authority, good):
    rec, _ = good
    req = der_request(rec, authority.root("auth"), nonce=b"n" * 16)
    r = client.get("/ocsp/" + base64.urlsafe_b64encode(req).decode())
    resp = status_of(r)
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    assert "no-cache" in r.headers["cache-control"]


MALFORMED_POSTS = {
    "empty": b"",
    "garbage": b"hello, responder",
    "truncated": None,  # filled from a real request
    "huge": b"\x30\x84" + b"\x00" * (70 * 1024),
    "not-a-request": b"\x30\x03\x02\x01\x00",
}


@pytest.mark.parametrize("case", MALFORMED_POSTS)
def test_malformed_posts_get_malformedRequest(client, good, case):
    body = MALFORMED_POSTS[case] if case != "truncated" else good[1][:-7]
    resp = status_of(client.post("/ocsp", content=body, headers=OCSP_REQUEST))
    assert resp.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("path", ["/ocsp/", "/ocsp/%%%%", "/ocsp/!!!!", "/ocsp/A", "/ocsp/aGVsbG8=",
                                  "/ocsp/" + "A" * 65_000])
def test_malformed_gets_get_malformedRequest(client, path):
    resp = status_of(client.get(path))
    assert resp.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_before_init_says_tryLater(tmp_path, clock, good):
    from fastapi.testclient import TestClient
    from openjpki.config import Settings
    from openjpki.web import create_app

    with TestClient(create_app(Settings.resolve(tmp_path / "empty"), clock=clock)) as c:
        resp = status_of(c.post("/ocsp", content=good[1]))
    assert resp.response_status == ocsp.OCSPResponseStatus.TRY_LATER


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=600),
                      st.binary(min_size=1, max_size=40).map(lambda b: b"\x30" + b)))
def test_fuzzed_bodies_never_break_the_responder(client, body):
    r = client.post("/ocsp", content=body, headers=OCSP_REQUEST)
    resp = status_of(r)
    assert resp.response_status in (ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
                                    ocsp.OCSPResponseStatus.UNAUTHORIZED)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_mutations_of_a_real_request(client, good, data):
    req = bytearray(good[1])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(req) - 1))
        req[i] = data.draw(st.integers(0, 255))
    resp = status_of(client.post("/ocsp", content=bytes(req)))
    assert resp.response_status in (ocsp.OCSPResponseStatus.SUCCESSFUL,
                                    ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
                                    ocsp.OCSPResponseStatus.UNAUTHORIZED)

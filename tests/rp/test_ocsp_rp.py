"""Revocation by OCSP against the project's own responder: through the app with an injected
fetcher (TestClient), and over real HTTP (uvicorn on a free loopback port) from the library
and from `openjpki verify --ocsp URL`; responses are checked by key and CertID."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from openjpki.pki import CertStatus, OcspCertId, build_ocsp_response, issuer_hashes
from openjpki.pki.verify_model import FetchError
from openjpki.pki.verify_ocsp import OcspSource, check_ocsp_response
from openjpki.pki.verify_cert import CertInfo
from openjpki.pki.path import TrustAnchor
from openjpki.services.relying_party import http_fetch, make_verifier, store_roots
from openjpki.web import create_app

from .conftest import AT, FACTS, NOW, R, sign
from .test_cli_verify import run

DATA = b"challenge: 4f1c"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from .homekit import make_home
    return make_home(tmp_path_factory.mktemp("ocsp-home"))


@pytest.fixture(scope="module")
def client(home):
    app = create_app(home.settings, clock=lambda: AT)
    with TestClient(app) as c:
        yield c


def client_fetch(client):
    def fetch(url, body, ctype):
        path = url.split("://", 1)[1].split("/", 1)[1]
        r = client.post("/" + path, content=body, headers={"Content-Type": ctype}) if body is not None \
            else client.get("/" + path)
        if r.status_code != 200:
            raise FetchError(f"HTTP {r.status_code}")
        return r.content
    return fetch


def verifier_for(home, fetch, *, nonce=False):
    from openjpki.pki.verify import Verifier
    return Verifier(store_roots(home.service), revocation=[OcspSource(fetch, url="http://rp.test/ocsp", nonce=nonce)])


@pytest.mark.parametrize("nonce", [False, True])
def test_ocsp_good_revoked_and_hold_through_the_app(home, client, keys, nonce):
    v = verifier_for(home, client_fetch(client), nonce=nonce)
    good = home.issue("auth", keys["card"])
    revoked = home.issue("sign", keys["card"], facts=FACTS)
    held = home.issue("auth", keys["card2"])
    home.service.revoke(format(revoked.serial_number, "x"), "affiliationChanged", at=NOW)
    home.service.hold(format(held.serial_number, "x"), at=NOW)
    assert v.verify(DATA, sign(keys["card"], DATA), good, at=AT, purpose="auth").status == "good"
    result = v.verify(DATA, sign(keys["card"], DATA), revoked, at=AT)
    assert (result.status, result.revocation.source, result.revocation.reason) == ("revoked", "ocsp", "affiliationChanged")
    assert v.verify(DATA, sign(keys["card2"], DATA), held, at=AT).status == "hold"


def test_response_by_another_generation_key_or_for_another_certificate_is_not_accepted(home, keys, signers, roots):
    """Same DN, other key: a response signed by the forger's key, or naming the forger's key
    hash in its CertID, says nothing about our certificate."""
    cert = home.issue("sign", keys["card"], facts=FACTS)
    info = CertInfo.parse(cert)
    anchor = TrustAnchor.of(home.service.root("sign"))
    real = OcspCertId("sha1", anchor.name_hash_sha1, anchor.key_hash_sha1, cert.serial_number)
    forged_root = roots["forger"]  # same DN as a SIGN root, unrelated key
    by_forger = build_ocsp_response(issuer=forged_root, signer=signers["forger"], cert_id=real,
                                    status=CertStatus.good(), this_update=NOW, next_update=NOW + timedelta(hours=3),
                                    produced_at=NOW)
    answer, _ = check_ocsp_response(by_forger, info, anchor, AT)
    assert answer.state == "unknown" and "not signed" in answer.detail
    other_id = OcspCertId("sha1", *issuer_hashes(forged_root)["sha1"], serial=cert.serial_number)
    signer = home.service.signer(home.service.current("sign").id)
    wrong_id = build_ocsp_response(issuer=anchor.cert, signer=signer, cert_id=other_id, status=CertStatus.good(),
                                   this_update=NOW, next_update=NOW + timedelta(hours=3), produced_at=NOW)
    answer, _ = check_ocsp_response(wrong_id, info, anchor, AT)
    assert answer.state == "unknown" and "not about this certificate" in answer.detail
    right = build_ocsp_response(issuer=anchor.cert, signer=signer, cert_id=real, status=CertStatus.good(),
                                this_update=NOW, next_update=NOW + timedelta(hours=3), produced_at=NOW)
    assert check_ocsp_response(right, info, anchor, AT)[0].state == "good"
    assert check_ocsp_response(right, info, anchor, NOW + timedelta(hours=4))[0].detail.startswith("the OCSP response is stale")


@pytest.fixture(scope="module")
def server(home):
    """The app under uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(create_app(home.settings, clock=lambda: AT), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False, lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_ocsp_over_http_from_the_library_and_the_cli(home, server, keys, tmp_path, capsys):
    good = home.issue("sign", keys["card"], facts=FACTS)
    revoked = home.issue("sign", keys["card2"], facts=FACTS)
    home.service.revoke(format(revoked.serial_number, "x"), "superseded", at=NOW)
    v = make_verifier(roots=store_roots(home.service), ocsp_url=f"{server}/ocsp", fetch=http_fetch())
    assert v.verify(DATA, sign(keys["card"], DATA), good, at=AT).status == "good"
    assert v.verify(DATA, sign(keys["card2"], DATA), revoked, at=AT).status == "revoked"
    (tmp_path / "doc").write_bytes(DATA)
    for name, cert, key, expect_rc, status in (("good", good, "card", 0, "good"),
                                                ("revoked", revoked, "card2", 1, "revoked")):
        (tmp_path / f"{name}.sig").write_bytes(sign(keys[key], DATA))
        (tmp_path / f"{name}.pem").write_bytes(home.pem(cert))
        rc, out, _ = run(capsys, "--home", home.settings.home, "verify", "--signature", tmp_path / f"{name}.sig",
                         "--certificate", tmp_path / f"{name}.pem", tmp_path / "doc", "--ocsp", f"{server}/ocsp",
                         "--at", AT.isoformat(), "--json")
        assert (rc, json.loads(out)["status"]) == (expect_rc, status)
    # a responder that does not answer: status unknown → untrusted, never a crash
    dead = make_verifier(roots=store_roots(home.service), ocsp_url="http://127.0.0.1:9/ocsp", fetch=http_fetch(0.5))
    result = dead.verify(DATA, sign(keys["card"], DATA), good, at=AT)
    assert result.status == "untrusted" and "revocation status unknown" in result.reason


def test_crl_from_the_running_server_via_the_certificates_distribution_point(home, server, keys):
    """A certificate issued with the sandbox URL option names the server's partition CRL."""
    from dataclasses import replace
    service = home.service
    saved = service.options
    service.options = replace(saved, crl_url_base=server)
    try:
        cert = home.issue("sign", keys["card"], facts=FACTS)
    finally:
        service.options = saved
    from openjpki.pki.verify import Verifier
    from openjpki.pki.verify_crl import CrlSource

    def by_distribution_point():  # only the certificate's HTTP CRL distribution point
        return Verifier(store_roots(service), revocation=[CrlSource(fetch=http_fetch())])

    v = by_distribution_point()
    assert v.verify(DATA, sign(keys["card"], DATA), cert, at=AT).status == "good"
    service.revoke(format(cert.serial_number, "x"), "affiliationChanged", at=NOW)
    # The server looks for changes made by other processes every sync interval: wait until
    # its CRL shows the revocation (the condition), not for a fixed delay.
    end = time.monotonic() + 30
    while (status := by_distribution_point().verify(
            DATA, sign(keys["card"], DATA), cert, at=AT).status) != "revoked":
        assert time.monotonic() < end, status
        time.sleep(0.05)
    assert status == "revoked"


def test_aia_ocsp_url_of_the_certificate_is_asked_and_answers_are_reused(roots, signers, issue, keys):
    """Without a configured responder, the certificate's AIA OCSP URL is used; an answer
    without nonce is kept until its nextUpdate (RFC 5019 §6)."""
    from openjpki.pki import ProfileOptions, parse_ocsp_request
    from openjpki.pki.verify import Verifier

    cert = issue(options=ProfileOptions(ocsp_url="http://ocsp.example.test/ocsp"))
    asked = []

    def responder(url, body, ctype):
        asked.append((url, ctype))
        request = parse_ocsp_request(body)
        return build_ocsp_response(issuer=roots["sign2"], signer=signers["sign2"], cert_id=request.cert_ids[0],
                                   status=CertStatus.revoked(NOW, R.key_compromise),
                                   this_update=NOW, next_update=NOW + timedelta(hours=2), produced_at=NOW,
                                   nonce=request.nonce)

    for nonce in (False, True):
        asked.clear()
        v = Verifier([roots["sign1"], roots["sign2"]], revocation=[OcspSource(responder, nonce=nonce)])
        for _ in range(3):
            result = v.verify(DATA, sign(keys["card"], DATA), cert, at=AT)
            assert (result.status, result.revocation.reason) == ("revoked", "keyCompromise")
        assert asked[0] == ("http://ocsp.example.test/ocsp", "application/ocsp-request")
        assert len(asked) == 1  # reused until nextUpdate (answers echoing a nonce too)
        assert v.verify(DATA, sign(keys["card"], DATA), cert, at=NOW - timedelta(hours=1)).status == "good"

"""Tools we did not write, against a running server on a free loopback port: openssl ocsp
(POST, with and without nonce, and a hand-built GET checked with -respin), openssl verify
-crl_check and openssl crl -verify on the CRLs we serve, and pyhanko-certvalidator with
revocation checking required (R4.3: a hold shows as revoked/certificateHold)."""

import asyncio
import base64
import subprocess
import urllib.request
from datetime import timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

from openjpki.services.authority_home import open_authorities
from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE, issue_sample

from live_helpers import Clock, start_live

pytestmark = pytest.mark.interop
PEM = serialization.Encoding.PEM


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """One running server for the module (set-up is the slow part), with a good and a revoked
    SIGN certificate, a held and a good AUTH certificate."""
    tmp_path = tmp_path_factory.mktemp("live")
    clock = Clock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
        settings, roots, server = start_live(tmp_path, clock)
        try:
            yield from _populate(settings, roots, server, tmp_path, clock)
        finally:
            server.stop()


def _populate(settings, roots, server, tmp_path, clock):
    service = open_authorities(settings)
    files = {}
    for kind, root in (("sign", roots.sign), ("auth", roots.auth)):
        files[f"{kind}_root"] = tmp_path / f"{kind}-root.pem"
        files[f"{kind}_root"].write_bytes(root.public_bytes(PEM))
    certs = {}
    for name, kind in (("good", "sign"), ("revoked", "sign"), ("held", "auth"), ("auth_good", "auth")):
        rec = issue_sample(service, kind, now=clock.now - timedelta(hours=1))
        certs[name] = rec
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text(rec.pem)
    service.revoke(certs["revoked"].serial, "keyCompromise", at=clock.now - timedelta(minutes=30))
    service.hold(certs["held"].serial, at=clock.now - timedelta(minutes=20))
    yield server, service, certs, files
    service.store.dispose()


def run(*args, check=False):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def openssl_ocsp(server, files, name, kind, *extra):
    root = str(files[f"{kind}_root"])
    return run("openssl", "ocsp", "-url", server.url + "/ocsp", "-issuer", root,
               "-cert", str(files[name]), "-CAfile", root, *extra)


@pytest.mark.parametrize("nonce", [[], ["-no_nonce"]], ids=["nonce", "no-nonce"])
@pytest.mark.parametrize("name, kind, expected", [
    ("good", "sign", "good"),
    ("auth_good", "auth", "good"),
    ("revoked", "sign", "revoked"),
    ("held", "auth", "revoked"),
])
def test_openssl_ocsp_against_the_running_responder(pki, name, kind, expected, nonce):
    server, _, _, files = pki
    r = openssl_ocsp(server, files, name, kind, *nonce)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Response verify OK" in out, out
    assert f"{files[name]}: {expected}" in out
    if name == "revoked":
        assert "Reason: keyCompromise" in out
    if name == "held":
        assert "Reason: certificateHold" in out
    if not nonce:
        assert "WARNING: no nonce in response" not in out


def test_openssl_ocsp_unknown_serial(pki):
    server, _, _, files = pki
    root = str(files["sign_root"])
    r = run("openssl", "ocsp", "-url", server.url + "/ocsp", "-issuer", root,
            "-serial", "0x0123456789ABCDEF", "-CAfile", root)
    assert "Response verify OK" in r.stderr + r.stdout
    assert "0x0123456789ABCDEF: unknown" in r.stdout


def test_openssl_checks_a_hand_built_get_response(pki, tmp_path):
    server, _, _, files = pki
    req = tmp_path / "req.der"
    run("openssl", "ocsp", "-issuer", str(files["sign_root"]), "-cert", str(files["revoked"]),
        "-no_nonce", "-reqout", str(req), check=True)
    url = server.url + "/ocsp/" + urllib.parse.quote(base64.b64encode(req.read_bytes()).decode(), safe="")
    with urllib.request.urlopen(url, timeout=30) as http:
        assert http.headers["Content-Type"] == "application/ocsp-response"
        assert "max-age=" in http.headers["Cache-Control"]
        (tmp_path / "resp.der").write_bytes(http.read())
    root = str(files["sign_root"])
    r = run("openssl", "ocsp", "-respin", str(tmp_path / "resp.der"), "-issuer", root,
            "-cert", str(files["revoked"]), "-CAfile", root, "-no_nonce")
    assert "Response verify OK" in r.stderr + r.stdout
    assert f"{files['revoked']}: revoked" in r.stdout and "Reason: keyCompromise" in r.stdout


def fetch(server, path, target):
    with urllib.request.urlopen(server.url + path, timeout=30) as http:
        assert http.headers["Content-Type"] == "application/pkix-crl"
        target.write_bytes(http.read())
    return target


def test_openssl_verify_crl_check_with_the_served_crl(pki, tmp_path):
    server, _, certs, files = pki
    der = fetch(server, f"/crl/sign/{certs['good'].partition}.crl", tmp_path / "part.crl")
    full = fetch(server, "/crl/sign.crl", tmp_path / "sign.crl")
    for crl in (der, full):
        pem = tmp_path / (crl.name + ".pem")
        run("openssl", "crl", "-inform", "DER", "-in", str(crl), "-out", str(pem), check=True)
        args = ["openssl", "verify", "-crl_check", "-CAfile", str(files["sign_root"]), "-CRLfile", str(pem)]
        ok = run(*args, str(files["good"]))
        assert ok.returncode == 0 and ": OK" in ok.stdout, ok.stdout + ok.stderr
        bad = run(*args, str(files["revoked"]))
        assert bad.returncode != 0 and "certificate revoked" in bad.stdout + bad.stderr


def test_openssl_crl_verify_accepts_every_crl_we_serve(pki, tmp_path):
    server, service, certs, files = pki
    paths = {"/crl/sign.crl": "sign", "/crl/auth.crl": "auth"}
    paths.update({f"/crl/sign/{p}.crl": "sign" for p in service.partitions()})
    assert len(paths) == 3
    for i, (path, kind) in enumerate(paths.items()):
        crl = fetch(server, path, tmp_path / f"{i}.crl")
        r = run("openssl", "crl", "-inform", "DER", "-in", str(crl), "-noout", "-CAfile",
                str(files[f"{kind}_root"]))
        assert r.returncode == 0 and "verify OK" in r.stdout + r.stderr, (path, r.stderr)


def _validate(root, rec, **context):
    async def validate():
        async with AIOHttpFetcherBackend() as fetchers:
            ctx = ValidationContext(
                trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
                allow_fetching=True, fetchers=fetchers, **context)
            validator = CertificateValidator(asn1_x509.Certificate.load(rec.der), validation_context=ctx)
            return await validator.async_validate_usage({"digital_signature", "non_repudiation"})

    return asyncio.run(validate())


@pytest.mark.parametrize("source", ["ocsp", "crl"])
def test_pyhanko_certvalidator_with_revocation_required(pki, source):
    server, service, certs, _ = pki
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule,
    )
    rule = (RevocationCheckingRule.OCSP_REQUIRED if source == "ocsp"
            else RevocationCheckingRule.CRL_REQUIRED)
    policy = CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule))
    root = service.root("sign")
    ctx = server.app.state.openjpki
    ctx.open()
    ctx.responder.clear()
    ctx.crls.clear()
    asked = []
    respond = ctx.responder.respond
    ctx.responder.respond = lambda body, now: asked.append(body) or respond(body, now)
    try:
        _check_with_pyhanko(root, certs, policy)
    finally:
        del ctx.responder.respond
    # the answers came from our running server, through the URLs in the certificates
    if source == "ocsp":
        assert len(asked) == 2
    else:
        assert ctx.crls._cache and not asked


def _check_with_pyhanko(root, certs, policy):
    path = _validate(root, certs["good"], revinfo_policy=policy)
    assert path.leaf.serial_number == certs["good"].certificate.serial_number
    with pytest.raises(RevokedError):
        _validate(root, certs["revoked"], revinfo_policy=policy)

"""The authorities' keys in a PKCS#11 token (SoftHSM2): made inside it, never extractable,
and every signature — certificates, CRLs, OCSP responses — checked by openssl."""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import urllib.request

import pytest
from cryptography import x509

from tests.hsm.softhsm import PIN
from tests.serve_process import Serve

pytestmark = pytest.mark.hsm


def _ok(r: subprocess.CompletedProcess):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _one_line_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def token_home(softhsm, tmp_path_factory):
    """A home initialised with its keys in a fresh token (PIN given on standard input)."""
    label = softhsm.new_token()
    home = tmp_path_factory.mktemp("hsm-home") / "home"
    r = _ok(softhsm.cli(home, "init", "--key-store", "pkcs11", "--module", softhsm.module,
                        "--token", label, "--pin-stdin", "--json", stdin=PIN + "\n"))
    roots = json.loads(r.stdout)
    for kind in ("sign", "auth"):
        (home.parent / f"{kind}-root.pem").write_text(roots[f"{kind}_root"])
    return home, label, roots


def test_init_makes_both_keys_in_the_token_and_no_key_file(softhsm, token_home):
    home, label, _ = token_home
    assert not list((home / "keys").glob("sign-*.key")) + list((home / "keys").glob("auth-*.key"))
    assert not (home / "keys" / "passphrase").exists()  # no CA key file, so no passphrase
    config = (home / "openjpki.toml").read_text()
    assert 'key_store = "pkcs11"' in config and f'pkcs11_token = "{label}"' in config
    assert PIN not in config
    listed = softhsm.list_objects(label)
    for kind in ("sign", "auth"):
        assert f'label:      openjpki-{kind}-1' in listed
    assert listed.count("Private Key Object; RSA") == 2
    assert listed.count("Usage:      sign\n") == 2 and listed.count("Usage:      verify\n") == 2


def test_init_twice_keeps_the_same_roots(softhsm, token_home):
    home, label, roots = token_home
    r = _ok(softhsm.cli(home, "init", "--json", pin=PIN))
    assert json.loads(r.stdout) == roots
    assert softhsm.list_objects(label).count("Private Key Object; RSA") == 2


@pytest.mark.slow
def test_issue_revoke_crl_signed_by_the_token_verify_with_openssl(softhsm, token_home, tmp_path):
    home, _, _ = token_home
    root = home.parent / "auth-root.pem"
    r = _ok(softhsm.cli(home, "cert", "issue", "--kind", "auth", "--json", pin=PIN))
    issued = json.loads(r.stdout)
    cert_pem = tmp_path / "cert.pem"
    cert_pem.write_text(issued["pem"])
    v = openssl("verify", "-CAfile", str(root), str(cert_pem))
    assert v.returncode == 0 and f"{cert_pem}: OK" in v.stdout, v.stdout + v.stderr
    _ok(softhsm.cli(home, "cert", "revoke", issued["serial"], "--reason", "keyCompromise", pin=PIN))
    crl = tmp_path / "auth.crl"
    _ok(softhsm.cli(home, "crl", "generate", "--kind", "auth", "--out", str(crl), pin=PIN))
    c = openssl("crl", "-inform", "DER", "-in", str(crl), "-CAfile", str(root), "-noout", "-text")
    out = c.stdout + c.stderr
    assert c.returncode == 0 and "verify OK" in out, out
    assert issued["serial"].upper() in out.upper().replace(":", ""), out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ocsp_through_serve_is_signed_by_the_token(softhsm, token_home, tmp_path):
    home, _, _ = token_home
    root = home.parent / "sign-root.pem"
    issued = json.loads(_ok(softhsm.cli(home, "cert", "issue", "--kind", "sign", "--json",
                                        pin=PIN)).stdout)
    cert_pem = tmp_path / "sign.pem"
    cert_pem.write_text(issued["pem"])
    _ok(softhsm.cli(home, "cert", "hold", issued["serial"], pin=PIN))
    port = _free_port()
    serve = Serve(home, port, "--pin-stdin", env=softhsm.env(), stdin=PIN + "\n")
    try:
        health = json.loads(urllib.request.urlopen(serve.url + "/healthz", timeout=10).read())
        assert health["key_store"]["token"] == "reachable"
        r = openssl("ocsp", "-issuer", str(root), "-cert", str(cert_pem), "-url",
                    serve.url + "/ocsp", "-CAfile", str(root), "-no_nonce", "-resp_text")
    finally:
        serve.stop()
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Response verify OK" in out, out
    assert "Cert Status: revoked" in out and "certificateHold" in out


READ_KEYS = """
import json, sys, pkcs11
from pkcs11 import Attribute, ObjectClass
token = pkcs11.lib(sys.argv[1]).get_token(token_label=sys.argv[2])
out = []
with token.open(user_pin=sys.argv[3]) as s:
    for key in s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
        facts = {a: key[getattr(Attribute, a)] for a in
                 ("SENSITIVE", "EXTRACTABLE", "NEVER_EXTRACTABLE", "LOCAL", "DECRYPT")}
        for secret in ("VALUE", "PRIVATE_EXPONENT", "PRIME_1"):
            try:
                key[getattr(Attribute, secret)]
                facts[secret] = "READ"
            except pkcs11.exceptions.PKCS11Error as e:
                facts[secret] = type(e).__name__
        out.append(facts)
print(json.dumps(out))
"""


def test_the_private_key_cannot_be_read_from_the_token(softhsm, token_home):
    """C_GetAttributeValue of the secret parts is refused (a process of its own: the library
    is initialised once per process, after the token was made)."""
    import sys

    _, label, _ = token_home
    r = subprocess.run([sys.executable, "-c", READ_KEYS, softhsm.module, label, PIN],
                       env=softhsm.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    keys = json.loads(r.stdout)
    assert len(keys) == 2
    for facts in keys:
        assert facts["SENSITIVE"] is True and facts["EXTRACTABLE"] is False
        assert facts["NEVER_EXTRACTABLE"] is True and facts["LOCAL"] is True  # made inside
        assert facts["DECRYPT"] is False  # a signing key only
        for secret in ("VALUE", "PRIVATE_EXPONENT", "PRIME_1"):
            assert facts[secret] in ("AttributeSensitive", "AttributeTypeInvalid"), facts


def test_a_wrong_pin_is_one_line(softhsm, token_home, tmp_path):
    home, _, _ = token_home
    r = softhsm.cli(home, "crl", "generate", "--kind", "auth", "--out", str(tmp_path / "x.crl"),
                    pin="999999")
    _one_line_error(r, "PIN is wrong")
    assert not (tmp_path / "x.crl").exists()
    r = softhsm.cli(home, "crl", "generate", "--kind", "auth", "--out", str(tmp_path / "x.crl"))
    _one_line_error(r, "no PIN", "OPENJPKI_PKCS11_PIN")


def test_init_refuses_a_missing_module_or_token(softhsm, tmp_path):
    r = softhsm.cli(tmp_path / "h1", "init", "--key-store", "pkcs11", "--module",
                    str(tmp_path / "nope.so"), "--token", "x", pin=PIN)
    _one_line_error(r, "no PKCS#11 library")
    r = softhsm.cli(tmp_path / "h2", "init", "--key-store", "pkcs11", "--module", softhsm.module,
                    "--token", "no-such-token", pin=PIN)
    _one_line_error(r, "no-such-token")
    r = softhsm.cli(tmp_path / "h3", "init", "--key-store", "pkcs11", pin=PIN)
    _one_line_error(r, "--module", "--token")


@pytest.mark.slow
def test_rollover_makes_the_next_key_in_the_token(softhsm, tmp_path):
    label = softhsm.new_token()
    home = tmp_path / "home"
    _ok(softhsm.cli(home, "init", "--key-store", "pkcs11", "--module", softhsm.module,
                    "--token", label, pin=PIN))
    r = _ok(softhsm.cli(home, "authorities", "rollover", "--kind", "sign", "--json", pin=PIN))
    assert json.loads(r.stdout)["generation"] == 2
    listed = softhsm.list_objects(label)
    assert "openjpki-sign-2" in listed and listed.count("Private Key Object; RSA") == 3
    issued = json.loads(_ok(softhsm.cli(home, "cert", "issue", "--kind", "sign", "--json",
                                        pin=PIN)).stdout)
    roots = json.loads(_ok(softhsm.cli(home, "authorities", "roots", "--kind", "sign",
                                       "--json", pin=PIN)).stdout)
    assert [g["generation"] for g in roots] == [1, 2]
    cert = x509.load_pem_x509_certificate(issued["pem"].encode())
    ski = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert ski not in (None, b"")
    assert not list((home / "keys").glob("sign-*.key"))


def test_rollover_on_a_file_home_still_makes_a_file(tmp_path, softhsm):
    home = tmp_path / "home"
    _ok(softhsm.cli(home, "init"))
    _ok(softhsm.cli(home, "authorities", "rollover", "--kind", "auth"))
    assert sorted(p.name for p in (home / "keys").glob("*-[0-9].key")) == [
        "auth-1.key", "auth-2.key", "sign-1.key"]


def test_signer_in_process_matches_the_protocol(softhsm):
    from openjpki.pki import DigestSigner, Signer
    from openjpki.pki.signer_pkcs11 import open_token
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    token = open_token(softhsm.module, "shared", PIN)
    signer = token.generate(f"probe-{id(token)}")
    assert isinstance(signer, Signer) and isinstance(signer, DigestSigner)
    data = b"to be signed"
    signer.public_key().verify(signer.sign(data), data, padding.PKCS1v15(), hashes.SHA256())
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    d = digest.finalize()
    assert signer.sign_digest(d) == signer.sign(data)  # PKCS#1 v1.5 is deterministic
    signer.public_key().verify(signer.sign_digest(d), d, padding.PKCS1v15(),
                               utils.Prehashed(hashes.SHA256()))
    assert "PRIVATE" not in repr(signer) and PIN not in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    again = token.signer(signer.token_key_id)
    assert again.public_key().public_numbers() == signer.public_key().public_numbers()


def test_signing_logs_in_again_after_the_token_dropped_every_session(softhsm):
    """What a restarted HSM does to a running node: every session closed, logged out. The
    next signature logs in again and succeeds; /healthz-style pings work again."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from openjpki.pki.signer_pkcs11 import open_token

    token = open_token(softhsm.module, "shared", PIN)
    signer = token.generate(f"reset-{id(token)}")
    signer.sign(b"warm")  # a pooled session exists now
    pooled = []
    while not token._pool.empty():
        pooled.append(token._pool.get_nowait())
    for session, _ in pooled:
        token._pool.put((session, _))
    token._login.close()  # logs the application out: the pooled sessions lose the key
    for session, _ in pooled:
        session.close()
    data = b"after the reset"
    signer.public_key().verify(signer.sign(data), data, padding.PKCS1v15(), hashes.SHA256())
    token.ping()

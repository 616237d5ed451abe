"""Detached CMS SignedData: made by cryptography's PKCS#7 builder and by `openssl cms -sign`,
verified here; and `openssl cms -verify` agrees on what we accept and what we refuse."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from openjpki.pki.verify import Verifier
from openjpki.pki.verify_cms import CmsError, parse_cms
from openjpki.pki.verify_crl import CrlSource

from .conftest import AT, FACTS

DATA = "電子申請: 転出届\n".encode() * 50
PEM = serialization.Encoding.PEM


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], capture_output=True, timeout=60, input=input)


@pytest.fixture(scope="module")
def sign_cert(issue):
    return issue()


@pytest.fixture(scope="module")
def verifier(roots, make_crl):
    return Verifier([roots["sign1"], roots["sign2"]], revocation=[CrlSource([make_crl("sign2")])])


def builder_cms(cert, key, data, *, certs=True, attrs=True):
    opts = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    if not certs:
        opts.append(pkcs7.PKCS7Options.NoCerts)
    if not attrs:
        opts.append(pkcs7.PKCS7Options.NoAttributes)
    else:
        opts.append(pkcs7.PKCS7Options.NoCapabilities)
    return (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, opts))


@pytest.mark.parametrize("attrs", [True, False])
def test_cms_from_cryptographys_builder_verifies_with_facts(verifier, sign_cert, keys, attrs):
    cms = builder_cms(sign_cert, keys["card"], DATA, attrs=attrs)
    result = verifier.verify(DATA, cms, at=AT, purpose="sign")
    assert result.status == "good", result.reason
    assert result.facts == FACTS
    assert verifier.verify(DATA + b"!", cms, at=AT).status == "bad-signature"


def test_cms_without_certificates_uses_the_one_given(verifier, sign_cert, keys):
    cms = builder_cms(sign_cert, keys["card"], DATA, certs=False)
    assert verifier.verify(DATA, cms, at=AT).status == "untrusted"
    assert verifier.verify(DATA, cms, sign_cert, at=AT).status == "good"


@pytest.mark.interop
def test_openssl_made_cms_is_accepted_and_openssl_agrees(tmp_path: Path, verifier, sign_cert, keys, roots):
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "cert.pem").write_bytes(sign_cert.public_bytes(PEM))
    (tmp_path / "key.pem").write_bytes(keys["card"].private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "roots.pem").write_bytes(roots["sign1"].public_bytes(PEM) + roots["sign2"].public_bytes(PEM))
    # detached is the default of `openssl cms -sign` (OpenSSL 3 has no -detach flag)
    made = openssl("cms", "-sign", "-binary", "-md", "sha256", "-nosmimecap", "-outform", "DER",
                   "-in", str(tmp_path / "data"), "-signer", str(tmp_path / "cert.pem"),
                   "-inkey", str(tmp_path / "key.pem"), "-out", str(tmp_path / "sig.p7s"))
    assert made.returncode == 0, made.stderr
    cms = (tmp_path / "sig.p7s").read_bytes()
    assert verifier.verify(DATA, cms, at=AT).status == "good"

    # our builder's CMS, checked by openssl against the trusted roots (both generations, one DN)
    ours = builder_cms(sign_cert, keys["card"], DATA)
    (tmp_path / "ours.p7s").write_bytes(ours)
    for sig in ("sig.p7s", "ours.p7s"):
        args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / sig), "-content",
                str(tmp_path / "data"), "-CAfile", str(tmp_path / "roots.pem"), "-purpose", "any",
                "-attime", str(int(AT.timestamp())), "-out", "/dev/null"]
        assert openssl(*args).returncode == 0
        (tmp_path / "tampered").write_bytes(DATA + b"x")
        tampered = [a if a != str(tmp_path / "data") else str(tmp_path / "tampered") for a in args]
        assert openssl(*tampered).returncode != 0
        assert verifier.verify(DATA + b"x", (tmp_path / sig).read_bytes(), at=AT).status == "bad-signature"


def test_pem_armoured_cms(verifier, sign_cert, keys):
    cms = (pkcs7.PKCS7SignatureBuilder().set_data(DATA).add_signer(sign_cert, keys["card"], hashes.SHA256())
           .sign(PEM, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
    assert verifier.verify(DATA, cms, at=AT).status == "good"


def test_cms_signed_by_an_auth_card_key_is_not_a_document_signature(verifier, issue, keys, roots, make_crl):
    auth = issue("auth")
    v = Verifier([roots["auth"], roots["sign2"]], revocation=[CrlSource([make_crl("auth")])])
    cms = builder_cms(auth, keys["card"], DATA)
    assert v.verify(DATA, cms, at=AT, purpose="sign").status == "untrusted"


def test_malformed_cms_is_refused_with_a_reason(verifier):
    bogus = b"\x30\x13\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x06\x30\x04\x02\x01\x01\x31"
    result = verifier.verify(DATA, bogus + b"\x00" * 8, at=AT)
    assert result.status == "bad-signature" and not result.valid
    with pytest.raises(CmsError):
        parse_cms(b"\x30\x00", DATA)

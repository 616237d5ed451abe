"""The sign command ``80 2A P1 80`` in every mode, checked with the certificate's public key
by ``cryptography`` and, for the padding schemes, by ``openssl``."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from openjpki.card import apdu as A
from openjpki.card.rsaops import SHA256_DIGESTINFO_PREFIX

from .cardkit import AUTH_PIN, SIGN_PIN

MSG = b"JPKI \xe5\x85\xac\xe7\x9a\x84\xe5\x80\x8b\xe4\xba\xba\xe8\xaa\x8d\xe8\xa8\xbc test message"
H = hashlib.sha256(MSG).digest()
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _signer(card, kind: str):
    pin, pin_ef, key_ef = ((AUTH_PIN, "0018", "0017") if kind == "auth"
                           else (SIGN_PIN, "001B", "001A"))
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    card.transmit(bytes.fromhex("00A4020C02" + pin_ef))
    assert card.transmit(A.build(0, 0x20, 0, 0x80, pin.encode()))[-2:] == b"\x90\x00"
    card.transmit(bytes.fromhex("00A4020C02" + key_ef))

    def sign(mode: int, data: bytes) -> bytes:
        r = card.transmit(A.build(0x80, 0x2A, mode, 0x80, data, le=256))
        assert r[-2:] == b"\x90\x00", r[-2:].hex()
        assert len(r) == 258
        return r[:-2]
    return sign


def _raw_open(pub, sig: bytes) -> bytes:
    n = pub.public_numbers()
    return pow(int.from_bytes(sig, "big"), n.e, n.n).to_bytes(256, "big")


def _pkcs1_block(data: bytes) -> bytes:
    return b"\x00\x01" + b"\xff" * (256 - 3 - len(data)) + b"\x00" + data


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_every_mode_verifies(card, issued, kind):
    pub = x509.load_der_x509_certificate(issued.certs[kind]).public_key()
    sign = _signer(card, kind)
    # 00: the DigestInfo given, PKCS#1 v1.5 (what OpenSC sends)
    pub.verify(sign(0x00, SHA256_DIGESTINFO_PREFIX + H), MSG, padding.PKCS1v15(), hashes.SHA256())
    # 01: SHA-256 on the card, the bare hash padded and signed
    assert _raw_open(pub, sign(0x01, MSG)) == _pkcs1_block(H)
    # 02: the caller's hash wrapped in a DigestInfo
    pub.verify(sign(0x02, H), MSG, padding.PKCS1v15(), hashes.SHA256())
    # 03: SHA-256 on the card + DigestInfo
    pub.verify(sign(0x03, MSG), MSG, padding.PKCS1v15(), hashes.SHA256())
    # 04: the caller's hash, RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt)
    pub.verify(sign(0x04, H), H, PSS, utils.Prehashed(hashes.SHA256()))
    # 05: SHA-256 on the card, PSS
    pub.verify(sign(0x05, MSG), MSG, PSS, hashes.SHA256())


@pytest.mark.parametrize("alg", [hashes.SHA1(), hashes.SHA384(), hashes.SHA512()])
def test_mode_00_signs_any_digestinfo(card, issued, alg):
    prefixes = {"sha1": "3021300906052b0e03021a05000414",
                "sha384": "3041300d060960864801650304020205000430",
                "sha512": "3051300d060960864801650304020305000440"}
    h = hashes.Hash(alg)
    h.update(MSG)
    di = bytes.fromhex(prefixes[alg.name]) + h.finalize()
    pub = x509.load_der_x509_certificate(issued.certs["auth"]).public_key()
    pub.verify(_signer(card, "auth")(0x00, di), MSG, padding.PKCS1v15(), alg)


@pytest.mark.parametrize("data", [b"\x01", bytes(range(36)), b"\xaa" * 245])
def test_mode_00_pads_arbitrary_data(card, issued, data):
    pub = x509.load_der_x509_certificate(issued.certs["auth"]).public_key()
    assert _raw_open(pub, _signer(card, "auth")(0x00, data)) == _pkcs1_block(data)


def test_mode_01_accepts_an_empty_message(card, issued):
    pub = x509.load_der_x509_certificate(issued.certs["auth"]).public_key()
    _signer(card, "auth")  # PIN verified, key EF selected
    r = card.transmit(bytes.fromhex("802A018000"))  # case 2: no data, Le 00
    assert r[-2:] == b"\x90\x00"
    assert _raw_open(pub, r[:-2]) == _pkcs1_block(hashlib.sha256(b"").digest())


@pytest.mark.interop
@pytest.mark.parametrize("mode,opts", [(0x03, []), (0x05, ["-sigopt", "rsa_padding_mode:pss",
                                                          "-sigopt", "rsa_pss_saltlen:32"])])
def test_openssl_verifies_pkcs1_and_pss(card, issued, tmp_path, mode, opts):
    pub = x509.load_der_x509_certificate(issued.certs["sign"]).public_key()
    (tmp_path / "pub.pem").write_bytes(pub.public_bytes(Encoding.PEM,
                                                        PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "msg").write_bytes(MSG)
    (tmp_path / "sig").write_bytes(_signer(card, "sign")(mode, MSG))
    r = subprocess.run(["openssl", "dgst", "-sha256", *opts, "-verify", str(tmp_path / "pub.pem"),
                        "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "Verified OK" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("data", [b"\x01", bytes(range(32)), b"\x5a" * 245])
def test_fallback_crt_signing_matches_openssl(card, data):
    """The pure-Python path (for cryptography < 45) gives OpenSSL's exact signature."""
    from cryptography.hazmat.primitives.asymmetric import utils as u
    from openjpki.card import rsaops
    from openjpki.card.pins import KeyKind
    key = card._private_key(KeyKind.AUTH)
    assert rsaops._raw_pkcs1(key, data) == key.sign(data, padding.PKCS1v15(), u.NoDigestInfo())

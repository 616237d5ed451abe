"""The card's RSA-2048 operations: key generation and the sign modes of ``80 2A P1 80``.

P1 00 signs what it is given with PKCS#1 v1.5 type-1 padding (the caller sends a
DigestInfo, as OpenSC does); 01 hashes with SHA-256 on the card and pads the bare hash;
02 wraps the caller's 32-byte hash in a SHA-256 DigestInfo; 03 hashes on the card and wraps
it; 04 signs the caller's 32-byte hash with RSASSA-PSS; 05 hashes on the card and signs with
PSS. PSS here is SHA-256 with MGF1-SHA-256 and a 32-byte salt ([open]: the hash length,
RFC 8017's recommendation).

All signing is OpenSSL's, through ``cryptography``: a DigestInfo of a known hash as
``Prehashed``, other blocks (bare hashes, arbitrary RSA-PKCS data) with ``NoDigestInfo``
(cryptography ≥ 45). Only with an older ``cryptography`` are those other blocks signed
here, with blinded CRT exponentiation checked with the public key before it leaves the card
(a faulty CRT result would leak the key) — correct, but some 30 times slower.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

KEY_BITS = 2048
KEY_BYTES = KEY_BITS // 8
PUBLIC_EXPONENT = 65537
MAX_PKCS1_INPUT = KEY_BYTES - 11  # PKCS#1 v1.5 needs at least 8 bytes of FF padding

SHA256_DIGESTINFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
_DIGESTINFO_PREFIXES = {
    bytes.fromhex("3021300906052b0e03021a05000414"): hashes.SHA1(),
    bytes.fromhex("302d300d06096086480165030402040500041c"): hashes.SHA224(),
    SHA256_DIGESTINFO_PREFIX: hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}

MODES = range(0x00, 0x06)
_NO_DIGEST_INFO = getattr(utils, "NoDigestInfo", None)


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_BITS)


def digest_info_sha256(digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGESTINFO_PREFIX + digest


def _known_digest_info(data: bytes) -> tuple[hashes.HashAlgorithm, bytes] | None:
    for prefix, alg in _DIGESTINFO_PREFIXES.items():
        if data.startswith(prefix) and len(data) == len(prefix) + alg.digest_size:
            return alg, data[len(prefix):]
    return None


def _raw_pkcs1(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    em = b"\x00\x01" + b"\xff" * (KEY_BYTES - 3 - len(data)) + b"\x00" + data
    m = int.from_bytes(em, "big")
    priv = key.private_numbers()
    pub = priv.public_numbers
    n, e = pub.n, pub.e
    while True:  # blinding: sign m·r^e, then divide by r
        r = secrets.randbelow(n - 2) + 2
        try:
            r_inv = pow(r, -1, n)
            break
        except ValueError:
            continue
    mb = (m * pow(r, e, n)) % n
    s1 = pow(mb, priv.dmp1, priv.p)
    s2 = pow(mb, priv.dmq1, priv.q)
    s = (s2 + ((priv.iqmp * (s1 - s2)) % priv.p) * priv.q) % n
    s = (s * r_inv) % n
    if pow(s, e, n) != m:
        raise RuntimeError("RSA self-check failed")
    return s.to_bytes(KEY_BYTES, "big")


def pkcs1_sign_block(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSA with PKCS#1 v1.5 type-1 padding of ``data`` (1..245 bytes)."""
    if not 1 <= len(data) <= MAX_PKCS1_INPUT:
        raise ValueError("wrong length")
    known = _known_digest_info(data)
    if known is not None:
        alg, digest = known
        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(alg))
    if _NO_DIGEST_INFO is not None:
        return key.sign(data, padding.PKCS1v15(), _NO_DIGEST_INFO())
    return _raw_pkcs1(key, data)


def _pss(key: rsa.RSAPrivateKey, digest: bytes) -> bytes:
    return key.sign(digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                    utils.Prehashed(hashes.SHA256()))


def sign(key: rsa.RSAPrivateKey, mode: int, data: bytes) -> bytes:
    """The signature for ``80 2A mode 80 data``; ValueError("wrong length") for data of a
    length the mode does not take (answered 6700)."""
    if mode == 0x00:
        return pkcs1_sign_block(key, data)
    if mode in (0x01, 0x03, 0x05):
        digest = hashlib.sha256(data).digest()
    else:
        if len(data) != 32:
            raise ValueError("wrong length")
        digest = data
    if mode == 0x01:
        return pkcs1_sign_block(key, digest)
    if mode in (0x02, 0x03):
        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    if mode in (0x04, 0x05):
        return _pss(key, digest)
    raise ValueError("unknown mode")

"""Independent readers for the tests of the other applications: BER parsed with asn1crypto's
parser (not our writer), signatures checked with ``cryptography``, images opened with
Pillow."""

from __future__ import annotations

import io

from asn1crypto import parser
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image

PRIVATE = 3


def ber(data: bytes) -> tuple[int, int, bytes, int]:
    """(class, tag number, contents, total length) of the first BER object in ``data``."""
    cls, _method, tag, header, contents, trailer = parser.parse(data, strict=False)
    return cls, tag, contents, len(header) + len(contents) + len(trailer)


def ber_children(contents: bytes) -> list[tuple[int, bytes, int]]:
    """(private tag number, contents, offset) of each object inside ``contents``."""
    out, pos = [], 0
    while pos < len(contents):
        cls, tag, value, size = ber(contents[pos:])
        assert cls == PRIVATE
        out.append((tag, value, pos))
        pos += size
    return out


def public_key_of(value: bytes) -> rsa.RSAPublicKey:
    """A public key as the card carries it: exponent (tag 82) then modulus (tag 81)."""
    _, e_tag, e, e_size = ber(value)
    _, n_tag, n, _ = ber(value[e_size:])
    assert (e_tag, n_tag) == (2, 1)
    return rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()


def cv_public_key(ef0004: bytes) -> rsa.RSAPublicKey:
    """The signer's key from EF 0004 (7F21 { 5F4E body, 5F37 signature }), whose
    self-signature is checked on the way."""
    cls, tag, contents, size = ber(ef0004)
    assert (cls, tag, size) == (1, 0x21, 568)  # application class 7F21
    _, body_tag, body, body_size = ber(contents)
    _, sig_tag, sig, _ = ber(contents[body_size:])
    assert (body_tag, sig_tag, len(body), len(sig)) == (0x4E, 0x37, 297, 256)
    key = public_key_of(body[32:])
    key.verify(sig, body, padding.PKCS1v15(), hashes.SHA256())
    return key


def verify(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> None:
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def image(data: bytes, fmt: str) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == fmt
    return img

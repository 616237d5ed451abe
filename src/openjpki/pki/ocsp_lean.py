"""The RFC 5019 request shape read without a parser, and the CertID a pre-produced response
carries.

RFC 5019 §2.1.1 clients send one request with one SHA-1 CertID, no version, requestor name,
extensions or signature.  That OCSPRequest has one fixed layout, every length in short form
(a CertID of at most 78 octets):

    30 L0 30 L1 30 L2 30 L3 30 L4 | 30 09 06 05 2B0E03021A 05 00 | 04 14 <issuerNameHash>
    | 04 14 <issuerKeyHash> | 02 n <serial>

so it is recognised by comparing bytes (about a microsecond, against ≈ 40 µs for
asn1crypto's parse).  Anything else (a nonce, SHA-256, absent NULL parameters, several
requests, a signed request) is not this shape and goes to :func:`~openjpki.pki.ocsp.
parse_ocsp_request`.  The CertID of that shape is byte for byte the one
:func:`~openjpki.pki.ocsp.build_ocsp_response` writes for a SHA-1 CertID without ``der``,
so a response produced ahead of the request echoes the request's CertID exactly.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from . import der
from .ocsp import OcspCertId

SHA1_ALGORITHM = der.seq(der.oid("1.3.14.3.2.26"), der.null())  # 30 09 06 05 2B0E03021A 05 00
_HEAD = 10  # five SEQUENCE headers
_HASHES = _HEAD + len(SHA1_ALGORITHM)  # 21: where 04 14 <name hash> starts
_SERIAL = _HASHES + 44  # 65: where 02 n <serial> starts
_FIXED = _SERIAL + 2  # 67 octets besides the serial's


class SimpleRequest(NamedTuple):
    """What a request of the RFC 5019 shape asks: the issuer (name hash and key hash, 40
    octets) and the serial number."""

    issuer: bytes
    serial: int


def simple_request(data: bytes) -> Optional[SimpleRequest]:
    """The issuer and serial of ``data`` when it is exactly the RFC 5019 shape above with a
    positive, minimally encoded serial; None for any other request (well formed or not)."""
    n = len(data) - _FIXED
    if not 0 < n <= 21 or data[66] != n:
        return None
    if data[0:10] != bytes((0x30, n + 65, 0x30, n + 63, 0x30, n + 61, 0x30, n + 59, 0x30, n + 57)):
        return None
    if data[10:21] != SHA1_ALGORITHM or data[21:23] != b"\x04\x14" or data[43:45] != b"\x04\x14" \
            or data[65] != 0x02:
        return None
    first = data[67]
    if first & 0x80 or (first == 0 and (n == 1 or not data[68] & 0x80)):
        return None  # negative, zero, or not minimal
    return SimpleRequest(data[23:43] + data[45:65], int.from_bytes(data[67:], "big"))


def simple_cert_id(issuer: bytes, serial: int) -> OcspCertId:
    """The SHA-1 CertID of the RFC 5019 shape (``issuer`` = name hash + key hash)."""
    return OcspCertId("sha1", issuer[:20], issuer[20:], serial)


def simple_request_der(issuer: bytes, serial: int) -> bytes:
    """The OCSPRequest of the RFC 5019 shape for ``serial`` (what clients such as ``openssl
    ocsp -no_nonce`` and cryptography's builder send)."""
    cert_id = der.seq(SHA1_ALGORITHM, der.octet_string(issuer[:20]), der.octet_string(issuer[20:]),
                      der.integer(serial))
    return der.seq(der.seq(der.seq(der.seq(cert_id))))

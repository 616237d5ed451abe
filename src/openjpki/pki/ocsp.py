"""OCSP (RFC 6960) in the RFC 5019 lightweight profile, answered by the issuing CA itself.

Responder choice (decision): each authority signs its OCSP responses with its own root key,
responderID byKey (RFC 5019 §2.2.3), no certificates in the response.  No delegated
responder certificate exists, so there is nothing to revoke or to mark ocsp-nocheck, and
any client holding the root can check a response.

Requests are parsed with asn1crypto (tolerant of SHA-1 and SHA-256 CertIDs, of several
requests, of a signed request, of nonces with or without the inner OCTET STRING); responses
are assembled with the small DER writer and signed through the Signer, since cryptography's
OCSPResponseBuilder signs only with an in-process key.  Hot path for the web layer: a
response without nonce depends only on (serial, status, times), so it can be built once per
status change and served from a cache; only requests with a nonce need a fresh signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import der
from .crl import REASON_CODES
from .signer import Signer

MAX_REQUEST = 65536
MAX_NONCE = 128
ID_PKIX_OCSP_BASIC = der.oid("1.3.6.1.5.5.7.48.1.1")
ID_PKIX_OCSP_NONCE = der.oid("1.3.6.1.5.5.7.48.1.2")
HASH_OIDS = {
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
RESPONSE_STATUS = {
    "successful": 0,
    "malformedRequest": 1,
    "internalError": 2,
    "tryLater": 3,
    "sigRequired": 5,
    "unauthorized": 6,
}


class OcspMalformed(ValueError):
    """The request is not a well-formed OCSP request (answer ``malformedRequest``)."""


@dataclass(frozen=True)
class OcspCertId:
    """One CertID of a request.  ``hash_algorithm`` is ``"sha1"``, ``"sha256"``, … or a
    dotted OID for an algorithm this package does not know.  ``der`` keeps the request's
    own encoding so the response echoes it byte for byte (not part of equality)."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes | None = field(default=None, compare=False, repr=False)

    def matches(self, hashes: dict[str, tuple[bytes, bytes]]) -> bool:
        """True if this CertID names the issuer whose :func:`issuer_hashes` are given."""
        return hashes.get(self.hash_algorithm) == (self.issuer_name_hash, self.issuer_key_hash)


@dataclass(frozen=True)
class OcspRequestInfo:
    cert_ids: tuple[OcspCertId, ...]
    nonce: bytes | None = None


@dataclass(frozen=True)
class CertStatus:
    """good / revoked(revoked_at, reason) / unknown, as an OCSP response states it.

    A certificate on hold is ``revoked`` with reason certificateHold (R4.3)."""

    state: str
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None

    @classmethod
    def good(cls) -> "CertStatus":
        return cls("good")

    @classmethod
    def unknown(cls) -> "CertStatus":
        return cls("unknown")

    @classmethod
    def revoked(cls, revoked_at: datetime, reason: x509.ReasonFlags | None = None) -> "CertStatus":
        return cls("revoked", revoked_at, reason)

    def __post_init__(self) -> None:
        if self.state not in ("good", "revoked", "unknown"):
            raise ValueError(f"unknown certificate status {self.state!r}")
        if (self.state == "revoked") != (self.revoked_at is not None):
            raise ValueError("revoked_at is given exactly for a revoked status")
        if self.revoked_at is not None and (self.revoked_at.tzinfo is None or self.revoked_at.utcoffset() is None):
            raise ValueError("revoked_at must be timezone-aware")
        if self.reason is not None and self.reason not in REASON_CODES:
            raise ValueError(f"reason {self.reason!r} cannot be given in OCSP")


def _inner_octets(value: bytes) -> bytes:
    """The nonce inside an extnValue: RFC 8954 wraps it in an OCTET STRING; some clients
    send the raw octets.  Take the inner value when the whole is one OCTET STRING."""
    try:
        tag, start, end = der.read_tlv(value)
    except ValueError:
        return value
    return value[start:end] if tag == der.OCTET_STRING and end == len(value) else value


def parse_ocsp_request(data: bytes) -> OcspRequestInfo:
    """Parse a DER OCSPRequest (a POST body, or a GET path once base64-decoded).

    Raises :class:`OcspMalformed` for anything that is not a well-formed request with at
    least one CertID.
    """
    if not isinstance(data, (bytes, bytearray)) or not data or len(data) > MAX_REQUEST:
        raise OcspMalformed("empty or oversized OCSP request")
    try:
        request = asn1_ocsp.OCSPRequest.load(bytes(data), strict=True)
        tbs = request["tbs_request"]
        cert_ids = []
        for item in tbs["request_list"]:
            cid = item["req_cert"]
            algorithm = cid["hash_algorithm"]["algorithm"]
            name = algorithm.native
            cert_ids.append(OcspCertId(
                hash_algorithm=name if name in HASH_OIDS else algorithm.dotted,
                issuer_name_hash=cid["issuer_name_hash"].native,
                issuer_key_hash=cid["issuer_key_hash"].native,
                serial=cid["serial_number"].native,
                der=cid.dump(),
            ))
        nonce = None
        extensions = tbs["request_extensions"]
        if extensions.native is not None:
            for ext in extensions:
                if ext["extn_id"].dotted == "1.3.6.1.5.5.7.48.1.2":
                    nonce = _inner_octets(ext["extn_value"].contents)
        request.native  # noqa: B018  (forces a full parse: lazy errors surface here)
    except OcspMalformed:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError …
        raise OcspMalformed(f"malformed OCSP request: {type(exc).__name__}") from None
    if not cert_ids:
        raise OcspMalformed("OCSP request without a CertID")
    if any(c.serial is None or c.serial < 0 for c in cert_ids):
        raise OcspMalformed("OCSP request with a negative serial")
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE:
        raise OcspMalformed("OCSP nonce of unusable length")
    return OcspRequestInfo(tuple(cert_ids), nonce)


def _key_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    _, start, end = der.read_tlv(spki)
    (_, _, _, _), (_, _, bstart, bend) = der.children(spki, start, end)
    return spki[bstart + 1 : bend]  # subjectPublicKey without the unused-bits octet


@lru_cache(maxsize=32)
def issuer_hashes(issuer: x509.Certificate) -> dict[str, tuple[bytes, bytes]]:
    """(issuerNameHash, issuerKeyHash) per hash algorithm, to match request CertIDs."""
    name = issuer.subject.public_bytes()
    key = _key_bits(issuer)
    return {alg: (hashlib.new(alg, name).digest(), hashlib.new(alg, key).digest()) for alg in ("sha1", "sha256")}


_RESPONDER_IDS: dict[int, tuple[x509.Certificate, bytes]] = {}


def _responder_id(issuer: x509.Certificate) -> bytes:
    """ResponderID byKey, looked up by the issuer object's identity first (hashing a
    Certificate hashes its whole DER; the entry keeps the object, so its id stays unique)."""
    hit = _RESPONDER_IDS.get(id(issuer))
    if hit is not None and hit[0] is issuer:
        return hit[1]
    responder_id = der.explicit(2, der.octet_string(issuer_hashes(issuer)["sha1"][1]))
    if len(_RESPONDER_IDS) >= 64:
        _RESPONDER_IDS.clear()
    _RESPONDER_IDS[id(issuer)] = (issuer, responder_id)
    return responder_id


def _encode_cert_id(cert_id: OcspCertId) -> bytes:
    if cert_id.der is not None:
        return cert_id.der
    oid = HASH_OIDS.get(cert_id.hash_algorithm, cert_id.hash_algorithm)
    return der.seq(der.seq(der.oid(oid), der.null()), der.octet_string(cert_id.issuer_name_hash),
                   der.octet_string(cert_id.issuer_key_hash), der.integer(cert_id.serial))


def _encode_status(status: CertStatus) -> bytes:
    if status.state == "good":
        return b"\x80\x00"
    if status.state == "unknown":
        return b"\x82\x00"
    assert status.revoked_at is not None
    info = der.generalized_time(status.revoked_at)
    if status.reason is not None and status.reason is not x509.ReasonFlags.unspecified:
        info += der.explicit(0, der.enumerated(REASON_CODES[status.reason]))
    return der.tlv(0xA1, info)


def build_ocsp_response(
    *,
    issuer: x509.Certificate,
    signer: Signer,
    cert_id: OcspCertId,
    status: CertStatus,
    this_update: datetime,
    next_update: datetime,
    produced_at: datetime,
    nonce: bytes | None = None,
) -> bytes:
    """A successful OCSPResponse (DER) for one CertID, signed by the issuing CA (byKey).

    ``nonce``, when the request had one, is echoed in a response extension (RFC 8954).
    """
    if next_update <= this_update:
        raise ValueError("next_update must be after this_update")
    single = der.seq(_encode_cert_id(cert_id), _encode_status(status), der.generalized_time(this_update),
                     der.explicit(0, der.generalized_time(next_update)))
    response_data = [_responder_id(issuer), der.generalized_time(produced_at), der.seq(single)]
    if nonce is not None:
        if not 1 <= len(nonce) <= MAX_NONCE:
            raise ValueError("nonce of unusable length")
        nonce_ext = der.seq(ID_PKIX_OCSP_NONCE, der.octet_string(der.octet_string(bytes(nonce))))
        response_data.append(der.explicit(1, der.seq(nonce_ext)))
    tbs = der.seq(*response_data)
    basic = der.seq(tbs, der.SHA256_WITH_RSA, der.bit_string(signer.sign(tbs)))
    return der.seq(der.enumerated(0), der.explicit(0, der.seq(ID_PKIX_OCSP_BASIC, der.octet_string(basic))))


def ocsp_error_response(status: str) -> bytes:
    """An unsuccessful OCSPResponse: ``malformedRequest``, ``internalError``, ``tryLater``,
    ``sigRequired`` or ``unauthorized`` (RFC 6960 §4.2.1; no responseBytes)."""
    code = RESPONSE_STATUS.get(status)
    if not code:
        raise ValueError(f"not an OCSP error status: {status!r}")
    return der.seq(der.enumerated(code))

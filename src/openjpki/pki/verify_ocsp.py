"""Revocation by OCSP (RFC 6960, RFC 5019), as a relying party asks for it.

The responder is the certificate's AIA OCSP URL, or one configured (PROFILES.md: real JPKI
certificates carry no URL; registered relying parties are given the responder's address).
A response is accepted only when
- it is ``successful`` and its signature verifies with the key of the root the certificate's
  path was built to (responderID byKey or byName: OpenJPKI's authorities sign their own
  answers), or with a delegated responder certificate issued by that same root key, with
  id-kp-OCSPSigning and valid at the moment checked;
- one of its SingleResponses has the certificate's CertID (serial, and the issuer name and
  key hashes of THAT root: a generation with the same DN but another key does not match);
- the nonce, when one was sent and the response carries one, is echoed unchanged;
- the moment checked lies before its nextUpdate.
Answers without nonce are kept until their nextUpdate (RFC 5019 §6).
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from typing import Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from .path import TrustAnchor
from .verify_model import Fetch, FetchError, Revocation, unknown

OCSP_REQUEST = "application/ocsp-request"
MAX_AGE_WITHOUT_NEXT_UPDATE = timedelta(hours=24)


def ocsp_request(cert: x509.Certificate, anchor: TrustAnchor, nonce: Optional[bytes] = None) -> bytes:
    """A DER OCSPRequest for ``cert`` issued by ``anchor`` (SHA-1 CertID, RFC 5019 §2.1.1)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, anchor.cert, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _hashes_of(anchor: TrustAnchor, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    if isinstance(algorithm, hashes.SHA1):
        return anchor.name_hash_sha1, anchor.key_hash_sha1
    name = algorithm.name
    spki_bits = _key_bits(anchor.public_key)
    return hashlib.new(name, anchor.subject_der).digest(), hashlib.new(name, spki_bits).digest()


def _key_bits(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def _verifies(key, signature: bytes, data: bytes, algorithm) -> bool:
    if not isinstance(key, rsa.RSAPublicKey) or algorithm is None or isinstance(algorithm, hashes.SHA1):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError):
        return False
    return True


def _signer_key(resp: ocsp.OCSPResponse, anchor: TrustAnchor, at: datetime):
    """The key that must verify the response: the root's own, or a delegated responder's."""
    key_hash, name = resp.responder_key_hash, resp.responder_name
    if key_hash == anchor.key_hash_sha1 or (name is not None and name == anchor.cert.subject):
        return anchor.public_key
    for cert in resp.certificates:
        if cert.issuer != anchor.cert.subject or not anchor.signed(
                cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_oid.dotted_string):
            continue
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            continue
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            continue
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        bits_hash = hashlib.sha1(_key_bits(key)).digest()
        if key_hash == bits_hash or (name is not None and name == cert.subject):
            return key
    return None


def check_ocsp_response(data: bytes, cert, anchor: TrustAnchor, at: datetime, *,
                        nonce: Optional[bytes] = None) -> tuple[Revocation, Optional[datetime]]:
    """What an OCSP response says about ``cert`` (a CertInfo) at ``at``, and until when the
    answer may be reused (its nextUpdate; None: not reusable)."""
    try:
        resp = ocsp.load_der_ocsp_response(data)
    except ValueError:
        return unknown("ocsp", "the OCSP response does not parse"), None
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return unknown("ocsp", f"the responder answered {resp.response_status.name}"), None
    key = _signer_key(resp, anchor, at)
    if key is None or not _verifies(key, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm):
        return unknown("ocsp", "the OCSP response is not signed by the certificate's root or its responder"), None
    if nonce is not None:
        try:
            echoed = resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed is not None and echoed != nonce:
            return unknown("ocsp", "the OCSP response echoes another nonce"), None
    for single in resp.responses:
        if single.serial_number != cert.serial:
            continue
        if (single.issuer_name_hash, single.issuer_key_hash) != _hashes_of(anchor, single.hash_algorithm):
            continue
        next_update = single.next_update_utc
        if next_update is None:
            next_update = single.this_update_utc + MAX_AGE_WITHOUT_NEXT_UPDATE
        if at >= next_update:
            return unknown("ocsp", "the OCSP response is stale (past its nextUpdate)"), None
        status = single.certificate_status
        if status is ocsp.OCSPCertStatus.GOOD:
            return Revocation("good", "ocsp", detail="OCSP good"), next_update
        if status is ocsp.OCSPCertStatus.UNKNOWN:
            return unknown("ocsp", "the responder does not know the certificate"), next_update
        reason = single.revocation_reason.value if single.revocation_reason else "unspecified"
        state = "hold" if reason == "certificateHold" else "revoked"
        return Revocation(state, "ocsp", single.revocation_time_utc, reason, "OCSP revoked"), next_update
    return unknown("ocsp", "the OCSP response is not about this certificate"), None


class OcspSource:
    """Ask an OCSP responder: ``url`` when given, else the certificate's AIA OCSP URL."""

    def __init__(self, fetch: Fetch, *, url: Optional[str] = None, use_aia: bool = True,
                 nonce: bool = False) -> None:
        self.fetch = fetch
        self.url = url
        self.use_aia = use_aia
        self.nonce = nonce
        # (serial, anchor id) -> (state, revoked_at, reason, next_update)
        self._cache: dict[tuple[int, TrustAnchor], tuple[Revocation, datetime]] = {}

    def _urls(self, cert) -> list[str]:
        urls = [self.url] if self.url else []
        if self.use_aia:
            urls += [u for u in cert.ocsp_urls if u not in urls]
        return urls

    def check(self, cert, anchor: TrustAnchor, at: datetime) -> Optional[Revocation]:
        key = (cert.serial, anchor)
        cached = self._cache.get(key)
        if cached is not None and at < cached[1]:
            return _as_of(cached[0], at)
        urls = self._urls(cert)
        if not urls:
            return None
        answer: Optional[Revocation] = None
        for url in urls:
            nonce = os.urandom(16) if self.nonce else None
            try:
                body = self.fetch(url, ocsp_request(cert.cert, anchor, nonce), OCSP_REQUEST)
            except FetchError as e:
                answer = unknown("ocsp", f"{url}: {e}")
                continue
            answer, until = check_ocsp_response(body, cert, anchor, at, nonce=nonce)
            if answer.known:
                if until is not None:
                    if len(self._cache) > 100_000:
                        self._cache.clear()
                    self._cache[key] = (answer, until)
                return _as_of(answer, at)
        return answer


def _as_of(answer: Revocation, at: datetime) -> Revocation:
    """A revocation dated after ``at`` did not yet apply at ``at``."""
    if answer.revoked_at is not None and answer.revoked_at > at:
        return Revocation("good", answer.source, detail=f"revoked only after {at.isoformat()}")
    return answer

"""Trusted roots and path building BY KEY (PROFILES.md "Authorities").

JPKI issues end-entity certificates directly from self-signed roots, and several
generations of a root (2015, 2019, 2023 …) share ONE distinguished name.  A certificate's
issuer name therefore does not say which root issued it.  A root is a candidate only when its
subject equals the certificate's issuer name; among candidates, those whose
subjectKeyIdentifier equals the certificate's authorityKeyIdentifier are tried first (the
identifier is a hint, not a proof); the root chosen is the one whose public key actually
verifies the certificate's signature.  Never by name alone: a certificate signed by any other
key with the same issuer DN finds no path.

Signature checks are cached per (certificate DER, root), so a certificate seen before costs a
dictionary look-up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtensionOID

from . import der
from .model import Kind
from .verify_cert import RSA_PKCS1_HASHES, CertificateError, CertInfo, key_identifier, load_certificate

_PKCS1 = padding.PKCS1v15()


@dataclass(frozen=True, eq=False)
class TrustAnchor:
    """A trusted root, with what verification needs precomputed."""

    cert: x509.Certificate
    der: bytes
    subject_der: bytes
    key_id: bytes  # its subjectKeyIdentifier (or the RFC 5280 method-1 identifier of its key)
    public_key: rsa.RSAPublicKey
    key_hash_sha1: bytes  # SHA-1 of the subjectPublicKey bits (OCSP CertID, responderID byKey)
    name_hash_sha1: bytes
    kind: Optional[Kind]
    environment: Optional[str]
    not_before: datetime
    not_after: datetime
    label: str  # short, safe to show: kind and key identifier

    @classmethod
    def of(cls, data: bytes | x509.Certificate) -> "TrustAnchor":
        """A root from a certificate; CertificateError unless it is a self-signed RSA CA whose
        own key verifies its signature."""
        cert = load_certificate(data)
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise CertificateError("a trusted root must have an RSA key")
        exts = {e.oid: e.value for e in cert.extensions}
        bc = exts.get(ExtensionOID.BASIC_CONSTRAINTS)
        if bc is None or not bc.ca:
            raise CertificateError("a trusted root must be a CA (basicConstraints CA:TRUE)")
        ku = exts.get(ExtensionOID.KEY_USAGE)
        if ku is not None and not ku.key_cert_sign:
            raise CertificateError("a trusted root must allow keyCertSign")
        if cert.issuer != cert.subject or not _signed_by(cert.signature, cert.tbs_certificate_bytes,
                                                          cert.signature_algorithm_oid.dotted_string, key):
            raise CertificateError("a trusted root must be self-signed by its own key")
        ski = exts.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        _, start, end = der.read_tlv(spki)
        (_, _, _, _), (_, _, bstart, bend) = der.children(spki, start, end)
        kind, env = _authority_of(cert)
        subject_der = cert.subject.public_bytes()
        return cls(cert=cert, der=cert.public_bytes(serialization.Encoding.DER), subject_der=subject_der,
                   key_id=ski.digest if ski is not None else key_identifier(key), public_key=key,
                   key_hash_sha1=hashlib.sha1(spki[bstart + 1:bend]).digest(),
                   name_hash_sha1=hashlib.sha1(subject_der).digest(), kind=kind, environment=env,
                   not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                   label=f"{kind.value if kind else 'root'}:{(ski.digest if ski is not None else key_identifier(key)).hex()}")

    def signed(self, signature: bytes, data: bytes, algorithm_oid: str) -> bool:
        """Does this root's key verify ``signature`` over ``data`` (PKCS#1 v1.5)?"""
        return _signed_by(signature, data, algorithm_oid, self.public_key)


def _signed_by(signature: bytes, data: bytes, algorithm_oid: str, key: rsa.RSAPublicKey) -> bool:
    hash_cls = RSA_PKCS1_HASHES.get(algorithm_oid)
    if hash_cls is None:
        return False
    try:
        key.verify(signature, data, _PKCS1, hash_cls())
    except (InvalidSignature, ValueError):
        return False
    return True


def _authority_of(cert: x509.Certificate) -> tuple[Optional[Kind], Optional[str]]:
    from .issue import authority_kind  # the authorities' names are data there

    try:
        return authority_kind(cert)
    except ValueError:
        return None, None


class TrustStore:
    """The roots a relying party trusts, indexed by subject DER and by key identifier."""

    def __init__(self, roots: Iterable[bytes | x509.Certificate | TrustAnchor]) -> None:
        self.anchors: list[TrustAnchor] = []
        self._by_subject: dict[bytes, list[TrustAnchor]] = {}
        seen: set[bytes] = set()
        for root in roots:
            anchor = root if isinstance(root, TrustAnchor) else TrustAnchor.of(root)
            if anchor.der in seen:
                continue
            seen.add(anchor.der)
            self.anchors.append(anchor)
            self._by_subject.setdefault(anchor.subject_der, []).append(anchor)
        # (certificate DER, anchor) -> signature verified?  Bounded; cleared when full.
        self._checked: dict[tuple[bytes, TrustAnchor], bool] = {}
        self.cache_limit = 100_000

    def __len__(self) -> int:
        return len(self.anchors)

    def candidates(self, info: CertInfo) -> list[TrustAnchor]:
        """Roots whose subject is the certificate's issuer name, AKI matches first."""
        found = self._by_subject.get(info.issuer_der)
        if found is None:  # the same name spelled with other string types: compare as names
            issuer = info.cert.issuer
            found = [a for a in self.anchors if a.cert.subject == issuer]
        if info.aki is None or len(found) < 2:
            return list(found)
        return sorted(found, key=lambda a: a.key_id != info.aki)

    def issuer_of(self, info: CertInfo) -> Optional[TrustAnchor]:
        """The root whose key verifies ``info``'s signature (see module docstring), or None."""
        for anchor in self.candidates(info):
            key = (info.der, anchor)
            ok = self._checked.get(key)
            if ok is None:
                ok = anchor.signed(info.cert.signature, info.cert.tbs_certificate_bytes,
                                   info.cert.signature_algorithm_oid.dotted_string)
                if len(self._checked) >= self.cache_limit:
                    self._checked.clear()
                self._checked[key] = ok
            if ok:
                return anchor
        return None

    def find_by_key_hash(self, key_hash_sha1: bytes) -> Optional[TrustAnchor]:
        for anchor in self.anchors:
            if anchor.key_hash_sha1 == key_hash_sha1:
                return anchor
        return None

"""An end-entity certificate as a relying party needs it, parsed once and cached.

:class:`CertInfo` keeps everything the checks need (key, validity, key usage, policies, CRL
distribution points, OCSP URLs, critical extensions, the kind and the SIGN facts) so a
repeated verification with the same certificate costs dictionary look-ups, not parsing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from . import profiles
from .facts import SignFacts, read_sign_facts
from .model import Kind

# Extensions a JPKI end entity may mark critical and that these checks understand.
_UNDERSTOOD = frozenset({
    ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME, ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.CRL_DISTRIBUTION_POINTS,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
})
_KU_NAMES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign")
# PKCS#1 v1.5 signature algorithms accepted on certificates (SHA-1 is not).
RSA_PKCS1_HASHES = {
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
}
_POLICY_KIND = {oid: (kind, env) for kind, p in profiles.END_ENTITY.items() for env, oid in p.policies.items()}


class CertificateError(ValueError):
    """The bytes are not a certificate this verifier can use (one line)."""


def load_certificate(data: bytes | x509.Certificate) -> x509.Certificate:
    """A certificate from an object, DER or PEM bytes; CertificateError otherwise."""
    if isinstance(data, x509.Certificate):
        return data
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise CertificateError("no certificate given")
    try:
        if bytes(data).lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(bytes(data))
        return x509.load_der_x509_certificate(bytes(data))
    except ValueError:
        raise CertificateError("not an X.509 certificate (DER or PEM)") from None


def integer_octets(value: int) -> bytes:
    """The content octets of a DER INTEGER (minimal two's complement)."""
    size = (value.bit_length() + 8) // 8 if value >= 0 else ((~value).bit_length() + 8) // 8
    return value.to_bytes(size, "big", signed=True)


def key_identifier(public_key: rsa.RSAPublicKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


@dataclass
class CertInfo:
    der: bytes
    cert: x509.Certificate
    serial: int
    serial_octets: bytes  # the content octets of the DER INTEGER (what CRL entries hold)
    issuer_der: bytes
    subject_der: bytes
    aki: Optional[bytes]
    not_before: datetime
    not_after: datetime
    public_key: Optional[rsa.RSAPublicKey]
    key_usage: frozenset[str]
    policies: frozenset[str]
    kind: Optional[Kind]
    environment: Optional[str]
    crldp_names: tuple[bytes, ...]  # DER of directoryName fullNames
    crl_urls: tuple[str, ...]
    ocsp_urls: tuple[str, ...]
    unknown_critical: tuple[str, ...]
    is_ca: bool
    signature_hash: Optional[type[hashes.HashAlgorithm]]
    _facts: object = field(default=None, repr=False)

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    def facts(self) -> Optional[SignFacts]:
        """The basic four facts of a SIGN certificate (None for AUTH or unreadable)."""
        if self._facts is None:
            try:
                self._facts = read_sign_facts(self.cert)
            except ValueError:
                self._facts = False
        return self._facts or None  # type: ignore[return-value]

    @classmethod
    def parse(cls, data: bytes | x509.Certificate) -> "CertInfo":
        cert = load_certificate(data)
        der = cert.public_bytes(serialization.Encoding.DER) if not isinstance(data, (bytes, bytearray)) \
            or bytes(data).lstrip().startswith(b"-----BEGIN") else bytes(data)
        try:
            exts = cert.extensions
        except ValueError as e:
            raise CertificateError(f"the certificate's extensions do not parse: {e}") from None
        ext = {e.oid: e for e in exts}
        key = cert.public_key()
        ku: frozenset[str] = frozenset()
        if ExtensionOID.KEY_USAGE in ext:
            value = ext[ExtensionOID.KEY_USAGE].value
            ku = frozenset(n for n in _KU_NAMES if getattr(value, n))
        policies: frozenset[str] = frozenset()
        if ExtensionOID.CERTIFICATE_POLICIES in ext:
            policies = frozenset(p.policy_identifier.dotted_string for p in ext[ExtensionOID.CERTIFICATE_POLICIES].value)
        kinds = {_POLICY_KIND[p] for p in policies if p in _POLICY_KIND}
        kind, env = kinds.pop() if len(kinds) == 1 else (None, None)
        names: list[bytes] = []
        urls: list[str] = []
        if ExtensionOID.CRL_DISTRIBUTION_POINTS in ext:
            for point in ext[ExtensionOID.CRL_DISTRIBUTION_POINTS].value:
                for general in point.full_name or ():
                    if isinstance(general, x509.DirectoryName):
                        names.append(general.value.public_bytes())
                    elif isinstance(general, x509.UniformResourceIdentifier) and general.value.startswith("http"):
                        urls.append(general.value)
        ocsp_urls: list[str] = []
        if ExtensionOID.AUTHORITY_INFORMATION_ACCESS in ext:
            for desc in ext[ExtensionOID.AUTHORITY_INFORMATION_ACCESS].value:
                if desc.access_method == AuthorityInformationAccessOID.OCSP and \
                        isinstance(desc.access_location, x509.UniformResourceIdentifier):
                    ocsp_urls.append(desc.access_location.value)
        aki = None
        if ExtensionOID.AUTHORITY_KEY_IDENTIFIER in ext:
            aki = ext[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value.key_identifier
        is_ca = ExtensionOID.BASIC_CONSTRAINTS in ext and ext[ExtensionOID.BASIC_CONSTRAINTS].value.ca
        serial = cert.serial_number
        return cls(
            der=der, cert=cert, serial=serial,
            serial_octets=integer_octets(serial),
            issuer_der=cert.issuer.public_bytes(), subject_der=cert.subject.public_bytes(), aki=aki,
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
            public_key=key if isinstance(key, rsa.RSAPublicKey) else None,
            key_usage=ku, policies=policies, kind=kind, environment=env,
            crldp_names=tuple(names), crl_urls=tuple(urls), ocsp_urls=tuple(ocsp_urls),
            unknown_critical=tuple(e.oid.dotted_string for e in exts if e.critical and e.oid not in _UNDERSTOOD),
            is_ca=bool(is_ca),
            signature_hash=RSA_PKCS1_HASHES.get(cert.signature_algorithm_oid.dotted_string),
        )

"""The authorities' names, as data, and the names derived from them.

The published 2023 JPKI roots (copies in tests/pki/data) have the DN
``C=JP, O=JPKI, OU=JPKI for digital signature|user authentication,
OU=Japan Agency for Local Authority Information Systems`` (C PrintableString, the rest
UTF8String) and a subjectAltName directoryName in Japanese with the same shape.  The test
environment keeps every attribute type, string type and position and only changes the
values, so a sandbox certificate can never be taken for a real one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.x509.oid import NameOID

from . import der
from .model import Environment, Kind

C, O, OU, L, CN = "2.5.4.6", "2.5.4.10", "2.5.4.11", "2.5.4.7", "2.5.4.3"
PRINTABLE, UTF8 = "printable", "utf8"

# (attribute OID, string type, value) in order, one attribute per RDN.
Attr = tuple[str, str, str]


@dataclass(frozen=True)
class AuthorityNames:
    subject: tuple[Attr, ...]
    alt_name: tuple[Attr, ...]  # subjectAltName directoryName of the root


_J_LIS_EN = "Japan Agency for Local Authority Information Systems"
_J_LIS_JA = "地方公共団体情報システム機構"
_SANDBOX_EN = "OpenJPKI sandbox"  # at most 64 characters (X.520 ub-organizational-unit-name)
_SANDBOX_JA = "OpenJPKI サンドボックス"

_OU_EN = {Kind.SIGN: "JPKI for digital signature", Kind.AUTH: "JPKI for user authentication"}
_OU_JA = {Kind.SIGN: "公的個人認証サービス署名用", Kind.AUTH: "公的個人認証サービス利用者証明用"}
SERVICE_JA = "公的個人認証サービス"


def authority_names(kind: Kind, environment: Environment) -> AuthorityNames:
    """The root's subject and its subjectAltName directoryName (PROFILES.md "Authorities")."""
    if environment == "production":
        org, ou_en, last_en = "JPKI", _OU_EN[kind], _J_LIS_EN
        service, ou_ja, last_ja = SERVICE_JA, _OU_JA[kind], _J_LIS_JA
    else:
        org, ou_en, last_en = "JPKI-TEST", _OU_EN[kind].replace("JPKI", "JPKI-TEST"), _SANDBOX_EN
        service, ou_ja, last_ja = SERVICE_JA + "（テスト）", _OU_JA[kind] + "（テスト）", _SANDBOX_JA
    return AuthorityNames(
        subject=((C, PRINTABLE, "JP"), (O, UTF8, org), (OU, UTF8, ou_en), (OU, UTF8, last_en)),
        alt_name=((C, PRINTABLE, "JP"), (O, UTF8, service), (OU, UTF8, ou_ja), (OU, UTF8, last_ja)),
    )


def encode_name(attrs: tuple[Attr, ...] | list[Attr]) -> bytes:
    """DER of an RDNSequence with one attribute per RDN, string types as given."""
    rdns = []
    for oid, kind, value in attrs:
        encoded = der.printable(value) if kind == PRINTABLE else der.utf8(value)
        rdns.append(der.tlv(der.SET, der.seq(der.oid(oid), encoded)))  # a SET of one needs no sorting
    return der.seq(*rdns)


# --- CRL partitions ------------------------------------------------------------------------

CRLDP_OU = "CRL Distribution Points"
UB_COMMON_NAME = 64
UB_ORGANIZATIONAL_UNIT = 64


@lru_cache(maxsize=4096)
def check_place(prefecture: str, municipality: str) -> None:
    """A prefecture and municipality usable in a DN (non-empty, within X.520 upper bounds)."""
    for what, value, bound in (
        ("prefecture", prefecture, UB_ORGANIZATIONAL_UNIT),
        ("municipality", municipality, UB_COMMON_NAME - len(" CRLDP")),
    ):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{what} must be a non-empty string")
        if len(value) > bound:
            raise ValueError(f"{what} is longer than {bound} characters")
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
            raise ValueError(f"{what} contains control characters")


@lru_cache(maxsize=4096)
def partition_id(prefecture: str, municipality: str) -> str:
    """The SIGN CRL partition of an issuing municipality: a stable, URL-safe id.

    Format: 16 lowercase hex digits, the first 8 octets of
    SHA-256(UTF-8(prefecture) || 0x1F || UTF-8(municipality)).  The strings are taken exactly
    as given (no normalisation), the same strings that go into the certificate's subject
    ``L=<prefecture>, L=<municipality>``.  Used in ``/crl/sign/{partition}.crl``.
    """
    check_place(prefecture, municipality)
    digest = hashlib.sha256(prefecture.encode() + b"\x1f" + municipality.encode()).digest()
    return digest[:8].hex()


def crldp_base(issuer_subject: x509.Name) -> list[x509.RelativeDistinguishedName]:
    """``C, O, OU=<authority>`` of the issuer plus ``OU=CRL Distribution Points``.

    The real SIGN distribution point ``C=JP, O=JPKI, OU=JPKI for digital signature,
    OU=CRL Distribution Points, OU=<prefecture>, CN=<municipality> CRLDP`` starts with the
    root's first three RDNs; deriving it from the issuer keeps test and production apart.
    """
    rdns = list(issuer_subject.rdns)[:3]
    rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CRLDP_OU)]))
    return rdns


def partition_name(issuer_subject: x509.Name, prefecture: str, municipality: str) -> x509.Name:
    """The directoryName of a municipality's SIGN CRL distribution point (PROFILES.md)."""
    check_place(prefecture, municipality)
    rdns = crldp_base(issuer_subject)
    rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture)]))
    rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality} CRLDP")]))
    return x509.Name(rdns)


def authority_crldp_name(issuer_subject: x509.Name) -> x509.Name:
    """The directoryName of the AUTH distribution point: ``<C, O, OU of the root>,
    OU=CRL Distribution Points`` (PROFILES.md leaves AUTH open; AUTH certificates name no
    municipality, so the AUTH CRL is one unpartitioned list)."""
    return x509.Name(crldp_base(issuer_subject))

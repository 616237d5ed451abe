"""Revocation lists, assembled by streaming precomputed entries.

Each revoked certificate's ``revokedCertificates`` entry is encoded ONCE, when it is revoked
(:func:`encode_revoked_entry`), and stored.  A CRL is then the concatenation of those
encodings between a few DER headers, signed through the Signer: a million entries take one
``b"".join`` and one SHA-256 pass instead of a million builder calls (why the small DER
writer is used here rather than cryptography's CertificateRevocationListBuilder, whose cost
grows with every entry added).

Reasons (PROFILES.md "Revocation as relying parties see it"): affiliationChanged (R4.1),
superseded (R3.7), cessationOfOperation (R4.3), keyCompromise, certificateHold (R4.3, never
released), unspecified.  ``unspecified`` is written as an absent reasonCode, as RFC 5280
§5.3.1 asks; removeFromCRL belongs to delta CRLs only and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from itertools import chain

from cryptography import x509

from . import der, names
from .signer import Signer

REASON_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}
_REASON_EXTENSIONS = {
    flag: der.seq(der.seq(der.oid("2.5.29.21"), der.octet_string(der.enumerated(code))))
    for flag, code in REASON_CODES.items()
    if code != 0
}
_CRL_NUMBER = der.oid("2.5.29.20")
_AKI = der.oid("2.5.29.35")
_IDP = der.oid("2.5.29.28")
_ONLY_USER_CERTS = b"\x81\x01\xff"  # [1] IMPLICIT BOOLEAN TRUE
_VERSION_2 = der.integer(1)


def encode_revoked_entry(serial: int, revoked_at: datetime, reason: x509.ReasonFlags | None) -> bytes:
    """DER of one ``revokedCertificates`` entry: serial, revocationDate (UTCTime through
    2049, then GeneralizedTime: RFC 5280 §5.1.2.6), and a reasonCode entry extension when
    a reason other than unspecified is given (certificateHold = 6)."""
    if not 0 < serial < 2**159:
        raise ValueError("serial must be positive and below 2**159")
    if reason is None or reason is x509.ReasonFlags.unspecified:
        extension = b""
    else:
        try:
            extension = _REASON_EXTENSIONS[reason]
        except KeyError:
            raise ValueError(f"reason {reason!r} cannot appear in a full CRL") from None
    # An entry is always shorter than 128 octets: short-form lengths, written inline.
    number = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    time = der.x509_time(revoked_at)
    return b"".join((b"\x30", _SHORT[len(number) + len(time) + len(extension) + 2], b"\x02", _SHORT[len(number)],
                     number, time, extension))


_SHORT = [bytes((i,)) for i in range(128)]


@lru_cache(maxsize=32)
def _issuer_parts(issuer: x509.Certificate) -> tuple[bytes, bytes]:
    try:
        key_id = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        key_id = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest  # type: ignore[arg-type]
    aki = der.seq(_AKI, der.octet_string(der.seq(der.implicit(0, der.octet_string(key_id), False))))
    return issuer.subject.public_bytes(), aki


def issuing_distribution_point(issuer: x509.Certificate, partition: tuple[str, str] | None) -> bytes:
    """The IDP extension value (RFC 5280 §5.2.5), always onlyContainsUserCerts.

    With a partition: distributionPoint fullName = the municipality's directoryName, the
    same name the SIGN certificates of that municipality carry.  Without: no
    distributionPoint, i.e. the full CRL of the authority (every certificate it issued),
    which verifiers accept for any certificate of the issuer whatever its CRLDP names.
    """
    if partition is None:
        return der.seq(_ONLY_USER_CERTS)
    prefecture, municipality = partition
    dn = names.partition_name(issuer.subject, prefecture, municipality).public_bytes()
    full_name = der.tlv(0xA0, der.explicit(4, dn))
    return der.seq(der.explicit(0, full_name), _ONLY_USER_CERTS)


def build_crl(
    *,
    issuer: x509.Certificate,
    signer: Signer,
    entries: Iterable[bytes],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    partition: tuple[str, str] | None = None,
) -> bytes:
    """A signed v2 CRL (DER) of the given precomputed entries.

    ``entries`` are outputs of :func:`encode_revoked_entry`, in any order, each once.
    ``partition`` = (prefecture, municipality) makes the municipality's SIGN partition CRL;
    None the authority's full CRL.  An empty list omits revokedCertificates (RFC 5280
    §5.1.2.6).  Extensions: authorityKeyIdentifier, cRLNumber, issuingDistributionPoint
    (critical).
    """
    if not 0 <= crl_number < 2**159:
        raise ValueError("crl_number must be a non-negative integer of at most 20 octets")
    if next_update <= this_update:
        raise ValueError("next_update must be after this_update")
    name, aki = _issuer_parts(issuer)
    parts = entries if isinstance(entries, (list, tuple)) else list(entries)
    total = sum(map(len, parts))
    revoked_header = (b"\x30" + der.length(total)) if parts else b""
    extensions = der.explicit(0, der.seq(
        aki,
        der.seq(_CRL_NUMBER, der.octet_string(der.integer(crl_number))),
        der.seq(_IDP, der.boolean(True), der.octet_string(issuing_distribution_point(issuer, partition))),
    ))
    head = _VERSION_2 + der.SHA256_WITH_RSA + name + der.x509_time(this_update) + der.x509_time(next_update)
    content_length = len(head) + len(revoked_header) + total + len(extensions)
    tbs = b"".join(chain((b"\x30", der.length(content_length), head, revoked_header), parts, (extensions,)))
    signature = der.bit_string(signer.sign(tbs))
    outer = len(tbs) + len(der.SHA256_WITH_RSA) + len(signature)
    return b"".join((b"\x30", der.length(outer), tbs, der.SHA256_WITH_RSA, signature))

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

import hashlib
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import BinaryIO

from cryptography import x509

from . import der, names
from .signer import DigestSigner, Signer

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


def _check(crl_number: int, this_update: datetime, next_update: datetime) -> None:
    if not 0 <= crl_number < 2**159:
        raise ValueError("crl_number must be a non-negative integer of at most 20 octets")
    if next_update <= this_update:
        raise ValueError("next_update must be after this_update")


def _frame(issuer: x509.Certificate, crl_number: int, this_update: datetime, next_update: datetime,
           partition: tuple[str, str] | None, total: int, any_entries: bool) -> tuple[bytes, bytes]:
    """What surrounds ``total`` octets of entries in the TBSCertList: (everything before the
    first entry, from the TBS header on; the extensions after the last one)."""
    name, aki = _issuer_parts(issuer)
    revoked_header = (b"\x30" + der.length(total)) if any_entries else b""
    extensions = der.explicit(0, der.seq(
        aki,
        der.seq(_CRL_NUMBER, der.octet_string(der.integer(crl_number))),
        der.seq(_IDP, der.boolean(True), der.octet_string(issuing_distribution_point(issuer, partition))),
    ))
    head = _VERSION_2 + der.SHA256_WITH_RSA + name + der.x509_time(this_update) + der.x509_time(next_update)
    content_length = len(head) + len(revoked_header) + total + len(extensions)
    return b"\x30" + der.length(content_length) + head + revoked_header, extensions


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
    (critical).  Holds every entry in memory: for very large lists see :func:`write_crl`,
    which writes the same bytes to a file.
    """
    _check(crl_number, this_update, next_update)
    parts = entries if isinstance(entries, (list, tuple)) else list(entries)
    total = sum(map(len, parts))
    head, extensions = _frame(issuer, crl_number, this_update, next_update, partition, total, bool(parts))
    tbs = b"".join(chain((head,), parts, (extensions,)))
    signature = der.bit_string(signer.sign(tbs))
    outer = len(tbs) + len(der.SHA256_WITH_RSA) + len(signature)
    return b"".join((b"\x30", der.length(outer), tbs, der.SHA256_WITH_RSA, signature))


@dataclass(frozen=True)
class WrittenCrl:
    """What :func:`write_crl` wrote: entries, octets, and the SHA-256 of the whole file."""

    entries: int
    size: int
    sha256: bytes


_CHUNK = 1 << 20
# Entries spooled in memory up to this size (≈ 21,000 entries), then in a temporary file:
# a small list (a municipality's partition) costs no file, a long one no more memory.
SPOOL_IN_MEMORY = 1 << 20


def _batched(entries: Iterable[bytes], size: int = 8192) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_crl(
    out: BinaryIO,
    *,
    issuer: x509.Certificate,
    signer: Signer,
    entries: Iterable[bytes] | None = None,
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    partition: tuple[str, str] | None = None,
    spool_dir: str | None = None,
    entry_batches: Iterable[Sequence[bytes]] | None = None,
) -> WrittenCrl:
    """:func:`build_crl` written to ``out`` in constant memory: the same bytes, for lists of
    any length (ten million entries and more).

    DER puts the length of the entry list before the entries, and the list arrives as a
    stream (rows of the store), so the entries are first spooled (in memory up to
    ``SPOOL_IN_MEMORY``, then to an anonymous temporary file in ``spool_dir``, default the
    system's) while they are counted; then the CRL is
    written to ``out`` once, the TBSCertList hashed as it goes, and only its SHA-256 digest
    is signed (:meth:`DigestSigner.sign_digest <openjpki.pki.signer.DigestSigner>`).  A
    signer without ``sign_digest`` is given the whole TBSCertList instead (read back from
    ``out``, which must then be readable and seekable).

    ``entry_batches`` may replace ``entries``: sequences of entries as a database hands
    them over a page at a time (each batch is joined in one call, no per-entry step).
    """
    _check(crl_number, this_update, next_update)
    if (entries is None) == (entry_batches is None):
        raise ValueError("give either entries or entry_batches")
    count = total = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=spool_dir) as spool:
        for batch in (_batched(entries) if entries is not None else entry_batches):  # type: ignore[union-attr]
            if batch:
                data = b"".join(batch)
                spool.write(data)
                total += len(data)
                count += len(batch)
        head, extensions = _frame(issuer, crl_number, this_update, next_update, partition, total, count > 0)
        tbs_length = len(head) + total + len(extensions)
        key_octets = (signer.public_key().key_size + 7) // 8  # PKCS#1 v1.5: modulus-sized
        signature_length = len(der.bit_string(b"\x00" * key_octets))
        outer = tbs_length + len(der.SHA256_WITH_RSA) + signature_length
        whole = hashlib.sha256()
        tbs_hash = hashlib.sha256()
        by_digest = isinstance(signer, DigestSigner)

        def emit(data: bytes, in_tbs: bool = True) -> None:
            out.write(data)
            whole.update(data)
            if in_tbs:
                tbs_hash.update(data)

        emit(b"\x30" + der.length(outer), in_tbs=False)
        tbs_start = 0 if by_digest else out.tell()
        emit(head)
        spool.seek(0)
        while chunk := spool.read(_CHUNK):
            emit(chunk)
    emit(extensions)
    if by_digest:
        signature = signer.sign_digest(tbs_hash.digest())
    else:
        out.flush()
        out.seek(tbs_start)
        tbs = out.read(tbs_length)
        out.seek(0, 2)
        signature = signer.sign(tbs)
    if len(signature) != key_octets:
        raise ValueError("the signer returned a signature of unexpected length")
    emit(der.SHA256_WITH_RSA, in_tbs=False)
    emit(der.bit_string(signature), in_tbs=False)
    return WrittenCrl(count, len(b"\x30" + der.length(outer)) + outer, whole.digest())

"""The two JPKI authorities as a pure library: profiles, roots, issuing, CRLs and OCSP.

Works on keys, certificates and plain values; knows nothing of residents or storage, and
never reads the clock (every time is an argument).  Everything is signed through
:class:`Signer` (sha256WithRSAEncryption, PKCS#1 v1.5) so an HSM can take the key's place.

Public API::

    Kind, ProfileOptions, Signer, KeySigner, FileSigner,
    make_root(kind, signer, *, not_before, options=ProfileOptions()) -> x509.Certificate
    SignFacts, read_sign_facts(cert) -> SignFacts
    issue_certificate(kind, *, issuer, signer, public_key, serial, not_before, last_valid_day,
                      subject_id, prefecture=None, municipality=None, facts=None,
                      options=ProfileOptions()) -> x509.Certificate
    new_serial() -> int, kind_of(cert) -> Kind | None
    partition_id(prefecture, municipality) -> str, partition_of(cert) -> str | None
    encode_revoked_entry(serial, revoked_at, reason) -> bytes
    build_crl(*, issuer, signer, entries, crl_number, this_update, next_update,
              partition=None) -> bytes
    write_crl(out, *, issuer, signer, entries, crl_number, this_update, next_update,
              partition=None, spool_dir=None) -> WrittenCrl   (the same bytes, streamed)
    DigestSigner: a Signer with sign_digest(sha256 digest) (KeySigner, FileSigner)
    OcspCertId, OcspRequestInfo, OcspMalformed, CertStatus,
    parse_ocsp_request(der) -> OcspRequestInfo
    build_ocsp_response(*, issuer, signer, cert_id, status, this_update, next_update,
                        produced_at, nonce=None) -> bytes
    ocsp_error_response(status) -> bytes
    issuer_hashes(issuer) -> {"sha1": (name_hash, key_hash), "sha256": (...)}
"""

from .crl import WrittenCrl, build_crl, encode_revoked_entry, write_crl
from .facts import SignFacts, read_sign_facts
from .issue import (
    end_of_day_jst, issue_certificate, issue_certificate_der, kind_of, make_root, new_serial, partition_of,
)
from .model import Kind, ProfileOptions
from .names import partition_id
from .ocsp import (
    CertStatus,
    OcspCertId,
    OcspMalformed,
    OcspRequestInfo,
    build_ocsp_response,
    issuer_hashes,
    ocsp_error_response,
    parse_ocsp_request,
)
from .signer import DigestSigner, FileSigner, KeySigner, Signer

__all__ = [
    "CertStatus",
    "DigestSigner",
    "FileSigner",
    "KeySigner",
    "Kind",
    "OcspCertId",
    "OcspMalformed",
    "OcspRequestInfo",
    "ProfileOptions",
    "SignFacts",
    "Signer",
    "WrittenCrl",
    "build_crl",
    "build_ocsp_response",
    "encode_revoked_entry",
    "end_of_day_jst",
    "issue_certificate",
    "issue_certificate_der",
    "issuer_hashes",
    "kind_of",
    "make_root",
    "new_serial",
    "ocsp_error_response",
    "parse_ocsp_request",
    "partition_id",
    "partition_of",
    "read_sign_facts",
    "write_crl",
]

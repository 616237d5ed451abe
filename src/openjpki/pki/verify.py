"""Relying-party verification of a My Number Card signature: what e-Tax, マイナポータル and
private services do with it.  Pure: roots, CRLs and OCSP answers come in as values or
through injected sources and fetchers; the moment checked is an argument.

    verifier = Verifier([sign_root_2019, sign_root_2023, auth_root_2023],
                        revocation=[CrlSource(crls), OcspSource(fetch, url=...)])
    result = verifier.verify(data, signature, certificate, at=now, purpose="sign")
    result.valid, result.status, result.reason, result.facts

Signatures: a bare PKCS#1 v1.5 SHA-256 signature (what ``openjpki client sign`` writes),
or a detached CMS SignedData (:mod:`openjpki.pki.verify_cms`), told apart automatically.

The checks, in order, and the status each failure gives (see :mod:`verify_model`):
1. a path BY KEY to a trusted root (:mod:`openjpki.pki.path`) — else ``untrusted``;
2. the signature over the data with the certificate's key — else ``bad-signature``;
3. the moment within the certificate's and the root's validity (R2.1) — else ``expired``;
4. an end entity with no unknown critical extension, the policy OID of a JPKI certificate
   of the root's kind and environment, and the purpose (R1.1): documents need a SIGN
   certificate with nonRepudiation, log-in an AUTH certificate with digitalSignature —
   else ``untrusted``;
5. revocation: the sources in order until one knows (CRL, OCSP, the authority's store) —
   ``revoked`` (R4.1, R3.7 …), ``hold`` (R4.3), or ``untrusted`` when none can say.
A valid SIGN result carries the basic four facts (R1.2); any other result carries none.

Speed: parsed certificates (:class:`CertInfo`) and the path found for each are cached per
certificate bytes; a CRL is a dictionary of serials; so a repeated verification costs the
RSA check of the document signature plus a few dictionary look-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Literal, Optional, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from .facts import SignFacts
from .model import Kind
from .path import TrustAnchor, TrustStore
from .verify_cert import CertificateError, CertInfo
from .verify_cms import CmsError, looks_like_cms, parse_cms
from .verify_model import (
    BAD_SIGNATURE, EXPIRED, GOOD, HOLD, REVOKED, STATUS_JA, UNTRUSTED, Revocation, RevocationSource,
)

Purpose = Literal["sign", "auth"]
_RULE = re.compile(r"\bR\d+\.\d+\b")
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_KU_FOR = {Kind.SIGN: "content_commitment", Kind.AUTH: "digital_signature"}
_KU_LABEL = {"content_commitment": "nonRepudiation", "digital_signature": "digitalSignature"}


@dataclass(frozen=True)
class VerificationResult:
    """The verdict.  ``valid`` is ``status == "good"``; ``reason`` says why, in English, one
    line; ``facts`` the SIGN certificate's basic four facts when valid."""

    status: str
    reason: str
    kind: Optional[str] = None
    serial: Optional[str] = None
    facts: Optional[SignFacts] = None
    root: Optional[str] = None
    revocation: Optional[Revocation] = None
    certificate: Optional[x509.Certificate] = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return self.status == GOOD

    @property
    def message_ja(self) -> str:
        return STATUS_JA[self.status]

    @property
    def rule(self) -> Optional[str]:
        """The rule that decided a refusal, when one did (R1.1, R2.1, R3.7, R4.1, R4.3)."""
        found = _RULE.search(self.reason)
        return found.group(0) if found else None

    def facts_dict(self) -> Optional[dict]:
        f = self.facts
        if f is None:
            return None
        return {"name": f.name, "address": f.address,
                "birth_date": f.birth_date.isoformat() if f.birth_date else None, "sex": f.sex}

    def to_dict(self) -> dict:
        """The JSON of ``openjpki verify --json`` (CLI.md), exactly these three members."""
        return {"valid": self.valid, "status": self.status, "facts": self.facts_dict()}


_UNSET = object()


class _Entry:
    """What the verifier keeps per certificate: the parsed certificate, the root its path
    leads to (None: none), the usage verdict per purpose, and its good verdicts."""

    __slots__ = ("info", "anchor", "base", "start", "end", "usage", "good")

    def __init__(self, info: CertInfo, anchor: Optional[TrustAnchor]) -> None:
        self.info = info
        self.anchor = anchor
        self.base = dict(kind=info.kind.value if info.kind else None, serial=info.serial_hex,
                         certificate=info.cert, root=anchor.label if anchor else None)
        # the moments at which both the certificate and its root are valid
        self.start = max(info.not_before, anchor.not_before) if anchor else info.not_before
        self.end = min(info.not_after, anchor.not_after) if anchor else info.not_after
        self.usage: dict = {}
        self.good: dict = {}


class Verifier:
    """Verifies card signatures against a set of trusted roots (any generations, both kinds).

    ``revocation``: sources asked in order (CrlSource, OcspSource, a store-backed source …).
    ``require_revocation``: when no source can say, the result is ``untrusted`` (default);
    False accepts an unknown revocation state (for offline checks of the signature only).
    ``environment``: ``"test"`` or ``"production"`` to accept only that environment's policy
    OIDs; None accepts the environment of the root the path leads to.
    """

    def __init__(self, roots: Iterable[bytes | x509.Certificate | TrustAnchor], *,
                 revocation: Sequence[RevocationSource] = (), require_revocation: bool = True,
                 environment: Optional[str] = None, cache_size: int = 50_000) -> None:
        if environment not in (None, "test", "production"):
            raise ValueError("environment must be 'test', 'production' or None")
        self.trust = roots if isinstance(roots, TrustStore) else TrustStore(roots)
        self.revocation = list(revocation)
        self.require_revocation = require_revocation
        self.environment = environment
        self.cache_size = cache_size
        self._entries: dict[bytes, _Entry] = {}

    # --- certificates -----------------------------------------------------------------------

    def _lookup(self, certificate: bytes | x509.Certificate) -> "_Entry":
        key = certificate if type(certificate) is bytes else (
            certificate.public_bytes(serialization.Encoding.DER) if isinstance(certificate, x509.Certificate)
            else bytes(certificate))  # type: ignore[arg-type]
        entry = self._entries.get(key)
        if entry is None:
            info = CertInfo.parse(key)
            entry = _Entry(info, self.trust.issuer_of(info))
            if len(self._entries) >= self.cache_size:
                self._entries.clear()
            self._entries[key] = entry
        return entry

    def check_certificate(self, certificate: bytes | x509.Certificate, *, at: datetime,
                          purpose: Optional[Purpose] = None) -> VerificationResult:
        """Path, validity, usage and revocation of a certificate, without a signature."""
        return self._verify(certificate, None, at, purpose)

    # --- signatures ---------------------------------------------------------------------------

    def verify(self, data: bytes, signature: bytes, certificate: bytes | x509.Certificate | None = None, *,
               at: datetime, purpose: Optional[Purpose] = None) -> VerificationResult:
        """A bare PKCS#1 v1.5 SHA-256 signature (with ``certificate``) or a detached CMS
        SignedData (certificate inside, or given) over ``data``."""
        if looks_like_cms(signature):
            return self.verify_cms(data, signature, certificate, at=at, purpose=purpose)
        return self.verify_raw(data, signature, certificate, at=at, purpose=purpose)

    def verify_raw(self, data: bytes, signature: bytes, certificate: bytes | x509.Certificate | None, *,
                   at: datetime, purpose: Optional[Purpose] = None) -> VerificationResult:
        """RSASSA-PKCS1-v1_5 with SHA-256 over ``data`` (the card's sign command)."""
        if certificate is None:
            return VerificationResult(UNTRUSTED, "a bare signature needs the signer's certificate")

        def check(info: CertInfo) -> Optional[str]:
            try:
                info.public_key.verify(signature, data, _PKCS1, _SHA256)  # type: ignore[union-attr]
            except (InvalidSignature, ValueError, TypeError):
                return "the signature does not verify with the certificate's key over the data"
            return None
        return self._verify(certificate, check, at, purpose)

    def verify_cms(self, data: bytes, cms: bytes, certificate: bytes | x509.Certificate | None = None, *,
                   at: datetime, purpose: Optional[Purpose] = None) -> VerificationResult:
        """A detached CMS SignedData over ``data`` (messageDigest, signature over the signed
        attributes, the signer certificate carried or given)."""
        given = None
        if isinstance(certificate, x509.Certificate):
            given = certificate.public_bytes(serialization.Encoding.DER)
        elif certificate is not None:
            try:
                given = CertInfo.parse(certificate).der
            except CertificateError as e:
                return VerificationResult(UNTRUSTED, str(e))
        try:
            unpacked = parse_cms(cms, data, given)
        except CmsError as e:
            return VerificationResult(BAD_SIGNATURE, str(e))
        if unpacked.certificate is None:
            return VerificationResult(UNTRUSTED, "the CMS message carries no signer certificate")

        def check(info: CertInfo) -> Optional[str]:
            if not unpacked.digest_ok:
                return unpacked.detail or "the signed digest is not the file's"
            try:
                info.public_key.verify(unpacked.signature, unpacked.signed_bytes, _PKCS1,  # type: ignore[union-attr]
                                       unpacked.hash_algorithm())
            except (InvalidSignature, ValueError, TypeError):
                return "the CMS signature does not verify with the signer's key"
            return None
        return self._verify(unpacked.certificate, check, at, purpose)

    # --- the checks -------------------------------------------------------------------------

    def _verify(self, certificate, check, at: datetime, purpose: Optional[Purpose]) -> VerificationResult:
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be a timezone-aware datetime")
        if purpose not in (None, "sign", "auth"):
            raise ValueError("purpose must be 'sign', 'auth' or None")
        try:
            entry = self._lookup(certificate)
        except CertificateError as e:
            return VerificationResult(UNTRUSTED, str(e))
        info, anchor = entry.info, entry.anchor
        if anchor is None:
            return VerificationResult(UNTRUSTED, "no trusted root's key verifies the certificate "
                                      "(the issuer name alone proves nothing)", **entry.base)
        if info.public_key is None:
            return VerificationResult(UNTRUSTED, "the certificate does not hold an RSA key", **entry.base)
        if check is not None:
            problem = check(info)
            if problem is not None:
                return VerificationResult(BAD_SIGNATURE, problem, **entry.base)
        if not entry.start <= at <= entry.end:
            for what, start, end in (("certificate", info.not_before, info.not_after),
                                     ("root", anchor.not_before, anchor.not_after)):
                if at < start:
                    return VerificationResult(EXPIRED, f"the {what} is not yet valid at {at.isoformat()} (R2.1)",
                                              **entry.base)
                if at > end:
                    return VerificationResult(EXPIRED, f"the {what} expired on {end.isoformat()} (R2.1)",
                                              **entry.base)
        problem = entry.usage.get(purpose, _UNSET)
        if problem is _UNSET:
            problem = entry.usage[purpose] = self._usage_problem(info, anchor, purpose)
        if problem is not None:
            return VerificationResult(UNTRUSTED, problem, **entry.base)  # type: ignore[arg-type]
        answer = None
        for source in self.revocation:
            found = source.check(info, anchor, at)
            if found is not None:
                answer = found
                if found.known:
                    break
        if answer is None or not answer.known:
            if self.require_revocation:
                why = answer.detail if answer is not None else "no revocation source was given"
                return VerificationResult(UNTRUSTED, f"revocation status unknown: {why}", revocation=answer,
                                          **entry.base)
        elif answer.state in (REVOKED, HOLD):
            when = answer.revoked_at.isoformat() if answer.revoked_at else "?"
            rule = "R4.3" if answer.state == HOLD else {"affiliationChanged": "R4.1", "superseded": "R3.7"}.get(
                answer.reason or "", "R4.3")
            return VerificationResult(answer.state, f"{answer.reason or 'unspecified'} since {when} "
                                      f"({answer.source}, {rule})", revocation=answer, **entry.base)
        # A good verdict depends only on the certificate and the answer: one object per pair.
        good = entry.good.get(id(answer))
        if good is None or good.revocation is not answer:
            facts = info.facts() if info.kind is Kind.SIGN else None
            source = answer.source if answer is not None else "none"
            good = VerificationResult(GOOD, f"valid ({entry.base['kind']}, {anchor.label}, revocation by {source})",
                                      facts=facts, revocation=answer, **entry.base)
            if len(entry.good) > 8:
                entry.good.clear()
            entry.good[id(answer)] = good
        return good

    def _usage_problem(self, info: CertInfo, anchor: TrustAnchor, purpose: Optional[Purpose]) -> Optional[str]:
        if info.is_ca:
            return "a CA certificate cannot sign documents or log in"
        if info.unknown_critical:
            return f"unknown critical extension {', '.join(info.unknown_critical)}"
        if info.kind is None:
            return "the certificate carries no JPKI SIGN or AUTH policy"
        if anchor.kind is not None and anchor.kind is not info.kind:
            return f"a {info.kind.value} certificate under the {anchor.kind.value} root"
        env = self.environment or anchor.environment
        if env is not None and info.environment != env:
            return f"the certificate's policy is of the {info.environment} environment, not {env}"
        if purpose is not None and info.kind.value != purpose:
            return ("R1.1: documents are signed with the SIGN certificate (署名用), not AUTH"
                    if purpose == "sign" else
                    "R1.1: log-in uses the AUTH certificate (利用者証明用), not SIGN")
        needed = _KU_FOR[info.kind]
        if needed not in info.key_usage:
            return f"the key usage lacks {_KU_LABEL[needed]} (R1.1)"
        return None

"""Plain values of relying-party verification: the statuses, a revocation answer, and the
protocol every revocation source (CRL, OCSP, an authority's own store) implements.

Statuses (CLI.md ``verify``): ``good``, ``revoked``, ``hold``, ``expired``, ``untrusted``,
``bad-signature``.  Only ``good`` is valid.  What each means, and which rule decides it:

- ``bad-signature``: the signature does not verify with the certificate's key over the data
  (or a CMS messageDigest does not match the file).
- ``untrusted``: no path by key to a trusted root, a certificate for another purpose (R1.1:
  SIGN signs documents, AUTH logs in), another environment's policy, an unknown critical
  extension, or no revocation source could answer.
- ``expired``: the moment checked lies outside the certificate's (or its root's) validity
  (R2.1); a certificate not yet valid is reported the same way, the reason says which.
- ``revoked``: on a CRL or revoked by OCSP at or before that moment (R4.1, R3.7, R4.3 …).
- ``hold``: revoked with reason certificateHold (R4.3: published at once, never released).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Optional, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .path import TrustAnchor
    from .verify_cert import CertInfo

GOOD, REVOKED, HOLD, EXPIRED, UNTRUSTED, BAD_SIGNATURE = (
    "good", "revoked", "hold", "expired", "untrusted", "bad-signature")
STATUSES = (GOOD, REVOKED, HOLD, EXPIRED, UNTRUSTED, BAD_SIGNATURE)
# What each verdict says, in Japanese (the reason of a result is in English).
STATUS_JA = {
    GOOD: "有効な署名です。",
    REVOKED: "電子証明書は失効しています。",
    HOLD: "電子証明書は一時保留（失効）されています。",
    EXPIRED: "電子証明書の有効期間外です。",
    UNTRUSTED: "信頼できる電子証明書として確認できません。",
    BAD_SIGNATURE: "署名が正しくありません（文書の改ざん、または別の鍵による署名）。",
}

# A fetcher: (url, request body or None for GET, content type of the body) -> response body.
# pki never opens a connection itself; the services layer injects one (httpx by default).
Fetch = Callable[[str, Optional[bytes], Optional[str]], bytes]


class FetchError(Exception):
    """A fetcher could not get an answer (network, HTTP status); one line, safe to show."""


@dataclass(frozen=True)
class Revocation:
    """What a revocation source says about one certificate at one moment.

    ``state``: ``good``, ``revoked``, ``hold`` or ``unknown`` (the source cannot say: no CRL
    covering the certificate, OCSP ``unknown``, a stale answer …).  ``reason`` is the RFC 5280
    reason name as cryptography spells it (``affiliationChanged``, ``certificateHold`` …).
    """

    state: str
    source: str
    revoked_at: Optional[datetime] = None
    reason: Optional[str] = None
    detail: str = ""

    @property
    def known(self) -> bool:
        return self.state != "unknown"


def unknown(source: str, detail: str) -> Revocation:
    return Revocation("unknown", source, detail=detail)


class RevocationSource(Protocol):
    """Anything that can tell whether ``cert`` (issued by ``anchor``) was revoked at ``at``.

    Returns None or an ``unknown`` answer when it cannot say; the verifier then asks the next
    source.  Must not raise for ordinary failures (network, malformed data): say unknown.
    """

    def check(self, cert: "CertInfo", anchor: "TrustAnchor", at: datetime) -> Optional[Revocation]:
        ...

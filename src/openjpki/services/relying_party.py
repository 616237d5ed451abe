"""The relying party's verifier on an OpenJPKI home: which roots it trusts, where it learns
revocation, and the HTTP fetcher the pure library is given.

Decision (documented in the CLI help and the report): by default a relying party on a home
trusts EVERY generation of both authorities' roots in the store, and asks revocation of the
store itself (:class:`StoreRevocation`, the status the authorities recorded: what their OCSP
responder would answer, with no CRL number spent and no staleness).  When CRL files or an
OCSP URL are given, those are the sources instead (a relying party elsewhere, holding only
published data); the certificate's own HTTP CRL distribution point and AIA OCSP URL are used
when present and a fetcher is allowed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional, Sequence

from cryptography import x509

from openjpki.pki.path import TrustAnchor
from openjpki.pki.verify import Verifier
from openjpki.pki.verify_cert import CertInfo
from openjpki.pki.verify_crl import CrlSource
from openjpki.pki.verify_model import Fetch, FetchError, Revocation, RevocationSource, unknown
from openjpki.pki.verify_ocsp import OcspSource
from openjpki.services.authority import AuthorityService
from openjpki.store import serial_hex
from openjpki.store import queries as q

USER_AGENT = "openjpki-relying-party"


def http_fetch(timeout: float = 5.0) -> Fetch:
    """A fetcher over httpx: GET when there is no body, POST with the content type otherwise.
    Errors become :class:`FetchError` with one line."""
    import httpx

    def fetch(url: str, body: Optional[bytes], content_type: Optional[str]) -> bytes:
        try:
            if body is None:
                response = httpx.get(url, timeout=timeout, headers={"User-Agent": USER_AGENT})
            else:
                response = httpx.post(url, content=body, timeout=timeout,
                                      headers={"Content-Type": content_type or "application/octet-stream",
                                               "User-Agent": USER_AGENT})
        except httpx.HTTPError as e:
            raise FetchError(f"{type(e).__name__}: {e}") from None
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        return response.content

    return fetch


class StoreRevocation:
    """Revocation as the authorities' store records it (the source an OCSP responder uses).

    Answers only for certificates the store issued, byte for byte: a certificate with a known
    serial but other contents is not vouched for (unknown)."""

    def __init__(self, service: AuthorityService) -> None:
        self.service = service

    def check(self, cert: CertInfo, anchor: TrustAnchor, at: datetime) -> Optional[Revocation]:
        serial = serial_hex(cert.serial) if cert.serial > 0 else None
        if serial is None:
            return unknown("store", "a serial the authorities never issue")
        with self.service.store.engine.connect() as conn:
            row = q.status_of(conn, serial)
        return revocation_of(row, at)


def revocation_of(row: Optional[q.StatusRow], at: datetime) -> Revocation:
    """The answer of the authorities' record of a certificate (None: never issued by them)."""
    if row is None:
        return unknown("store", "the authorities did not issue this certificate")
    if row.status == "good":
        return Revocation("good", "store", detail="good in the authorities' records")
    if row.revoked_at is not None and row.revoked_at > at:
        return Revocation("good", "store", detail=f"revoked only after {at.isoformat()}")
    reason = "certificateHold" if row.status == "hold" else (row.reason or "unspecified")
    return Revocation(row.status, "store", row.revoked_at, reason, "the authorities' records")


def store_roots(service: AuthorityService) -> list[x509.Certificate]:
    """Every root generation of both authorities in the store."""
    return [a.root for a in service.authorities()]


def make_verifier(*, roots: Iterable[x509.Certificate | bytes], service: Optional[AuthorityService] = None,
                  crls: Sequence[bytes] = (), ocsp_url: Optional[str] = None, fetch: Optional[Fetch] = None,
                  require_revocation: bool = True, environment: Optional[str] = None) -> Verifier:
    """A verifier with the sources the decision above gives (see module docstring)."""
    sources: list[RevocationSource] = []
    if crls or ocsp_url:
        if crls or fetch is not None:
            sources.append(CrlSource(crls, fetch=fetch))
        if ocsp_url and fetch is not None:
            sources.append(OcspSource(fetch, url=ocsp_url))
    else:
        if service is not None:
            sources.append(StoreRevocation(service))
        if fetch is not None:
            sources.append(OcspSource(fetch))  # AIA, when the certificate names one
            sources.append(CrlSource(fetch=fetch))  # HTTP distribution point, when named
    return Verifier(roots, revocation=sources, require_revocation=require_revocation, environment=environment)


def home_verifier(service: AuthorityService, *, crls: Sequence[bytes] = (), ocsp_url: Optional[str] = None,
                  fetch: Optional[Fetch] = None, extra_roots: Iterable[x509.Certificate | bytes] = ()) -> Verifier:
    """The verifier of a relying party on this home: the store's roots (all generations) plus
    ``extra_roots``; revocation from the store unless CRLs or an OCSP URL are given."""
    return make_verifier(roots=[*store_roots(service), *extra_roots], service=service, crls=crls,
                         ocsp_url=ocsp_url, fetch=fetch)


def open_relying_party(service: AuthorityService, home, *, database_url: Optional[str] = None,
                       fetch: Optional[Fetch] = None):
    """The sample relying party of a home: its own database (``<home>/relying-party.sqlite3``
    unless a URL is given), the home's verifier (store roots, store revocation), and the
    register's links between a holder's certificates."""
    from pathlib import Path

    from openjpki.services.relying_party_accounts import RelyingParty
    from openjpki.services.relying_party_db import open_database
    from openjpki.services.relying_party_links import RegisterLinks

    url = database_url or f"sqlite:///{Path(home) / 'relying-party.sqlite3'}"
    verifier = home_verifier(service, fetch=fetch)
    return RelyingParty(open_database(url), lambda: verifier, RegisterLinks(service.store))

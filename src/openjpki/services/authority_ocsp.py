"""One OCSP responder for both authorities (RFC 6960, RFC 5019 profile), with its cache.

A request's CertID names the issuer by hashes; they are matched against every authority
generation of the store, so one URL answers for SIGN and AUTH. A serial the matched authority
never issued is ``unknown``; an issuer that is not ours gets ``unauthorized`` (RFC 5019
§2.2.3); anything that does not parse, or asks about more than one certificate (RFC 5019
§2.1.1), gets ``malformedRequest``.

Responses of RFC 5019 requests (one SHA-1 CertID, no nonce) are pre-produced for every
certificate (``services.ocsp_producer``) and found by :meth:`OcspResponder.stored`: the
request's bytes are matched against the one layout such a request has (no ASN.1 parser),
then one indexed lookup in the store (no ORM). Any other request, and a certificate whose
response is not produced yet (or was just emptied by a status change), is answered by
:meth:`OcspResponder.respond`, which signs. Answers are then kept in memory, keyed by the
request's own bytes (at most ``max_entries``, the oldest dropped first), until a quarter of
their validity is left or the certificate's status changes. A request with a nonce always
gets a freshly signed response that echoes it, and is never cached.

Status changes made anywhere (this process, a CLI in another process) bump the authority's
``revision`` in the store; :meth:`OcspResponder.sync` reads the revisions (one small query)
and drops the responses of the serials that changed. The web layer calls it at most every
fraction of a second, and the authority service calls it at once after its own changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from cryptography import x509
from sqlalchemy import select

from openjpki.pki import (
    CertStatus, OcspMalformed, build_ocsp_response, issuer_hashes, ocsp_error_response,
    parse_ocsp_request,
)
from openjpki.pki.ocsp_lean import simple_request
from openjpki.services.authority import AuthorityService, LoadedAuthority, NotInitialised
from openjpki.store import Authority, serial_hex
from openjpki.store import queries as q
from openjpki.store.ocsp_queries import StoredResponses

MALFORMED = ocsp_error_response("malformedRequest")
UNAUTHORIZED = ocsp_error_response("unauthorized")
INTERNAL_ERROR = ocsp_error_response("internalError")
TRY_LATER = ocsp_error_response("tryLater")


@dataclass(frozen=True)
class OcspAnswer:
    """The DER to send, and when it was and stops being current (None for error answers)."""

    der: bytes
    this_update: Optional[datetime] = None
    next_update: Optional[datetime] = None
    cacheable: bool = False  # a successful response without nonce (HTTP caches may keep it)
    status: str = "successful"


UNAUTHORIZED_ANSWER = OcspAnswer(UNAUTHORIZED, status="unauthorized")
_UTC = timezone.utc


@dataclass
class _Entry:
    answer: OcspAnswer
    serial: str
    authority_id: int


class OcspResponder:
    """Answers OCSP requests for the authorities of ``service``."""

    def __init__(self, service: AuthorityService, *, validity: timedelta = timedelta(hours=1),
                 max_entries: int = 50_000, unknown: str = "unknown") -> None:
        if validity < timedelta(minutes=1):
            raise ValueError("OCSP validity must be at least a minute")
        if unknown not in ("unknown", "unauthorized"):
            raise ValueError("unknown serials are answered unknown or unauthorized")
        self.service = service
        self.unknown = unknown
        self.lookup = StoredResponses(service.store.engine)
        # On SQLite the lookup is a local file read of ≈ 10 µs: the web layer makes it
        # without leaving the event loop. Elsewhere (a database over the network) it is
        # made in a worker thread, in respond().
        self.inline = self.lookup.dialect == "sqlite"
        self._simple: dict[bytes, LoadedAuthority] = {}
        self.validity = validity
        self.refresh_margin = validity / 4
        self.max_entries = max_entries
        self._cache: OrderedDict[bytes, _Entry] = OrderedDict()
        self._by_serial: dict[str, set[bytes]] = {}
        self._lock = threading.Lock()
        self._revisions: dict[int, int] = {}
        self._issuers: list[tuple[dict[str, tuple[bytes, bytes]], LoadedAuthority]] = []

    # --- the fast path -----------------------------------------------------------------------

    def cached(self, request: bytes, now: datetime) -> Optional[OcspAnswer]:
        """The stored answer to exactly these request bytes, if it is still fresh."""
        entry = self._cache.get(request)
        if entry is None:
            return None
        a = entry.answer
        if a.this_update <= now < a.next_update - self.refresh_margin:  # type: ignore[operator]
            return a
        return None

    def stored(self, request: bytes, now: datetime) -> Optional[OcspAnswer]:
        """The pre-produced answer to an RFC 5019 request, from the store (and kept in memory
        like any other); None when there is none to serve: :meth:`respond` answers then.
        A serial never issued gets ``unauthorized`` here when so configured."""
        simple = simple_request(request)
        if simple is None or not self._revisions:
            return None
        if not self._simple:
            try:
                self._issuer_of(None)
            except NotInitialised:
                return None
        authority = self._simple.get(simple.issuer)
        if authority is None:
            return UNAUTHORIZED_ANSWER  # not one of our issuers (RFC 5019 §2.2.3)
        revision = self._revisions.get(authority.id, 0)  # before the read: see _store
        serial = serial_hex(simple.serial)
        row = self.lookup.response(serial)
        if row is None:
            if self.unknown == "unauthorized" and not self.lookup.certificate_exists(serial):
                return UNAUTHORIZED_ANSWER
            return None
        authority_id, der, this_update, next_update = row
        if der is None or authority_id != authority.id:
            return None
        t = now.timestamp()
        if not this_update <= t < next_update - (next_update - this_update) / 8:
            return None  # the producer is behind: sign on demand
        answer = OcspAnswer(der, datetime.fromtimestamp(this_update, _UTC),
                            datetime.fromtimestamp(next_update, _UTC), cacheable=True)
        self._store(request, _Entry(answer, serial, authority.id), revision)
        return answer

    # --- answering ---------------------------------------------------------------------------

    def respond(self, request: bytes, now: datetime) -> OcspAnswer:
        """The answer to a DER OCSPRequest (never raises for bad input)."""
        hit = self.cached(request, now)
        if hit is not None:
            return hit
        if not self._revisions:
            self.sync()  # know the revisions before anything is cached
        hit = self.stored(request, now)
        if hit is not None:
            return hit
        try:
            info = parse_ocsp_request(request)
        except OcspMalformed:
            return OcspAnswer(MALFORMED, status="malformedRequest")
        if len(info.cert_ids) != 1:
            return OcspAnswer(MALFORMED, status="malformedRequest")
        cert_id = info.cert_ids[0]
        try:
            authority = self._issuer_of(cert_id)
        except NotInitialised:
            return OcspAnswer(TRY_LATER, status="tryLater")
        if authority is None:
            return OcspAnswer(UNAUTHORIZED, status="unauthorized")
        serial = serial_hex(cert_id.serial)
        with self.service.store.engine.connect() as conn:
            # The revision first, then the status: see _store.
            revision = conn.scalar(select(Authority.revision).where(Authority.id == authority.id)) or 0
            row = q.status_of(conn, serial)
        if row is None and self.unknown == "unauthorized":
            return UNAUTHORIZED_ANSWER
        if row is None or row.authority_id != authority.id:
            status = CertStatus.unknown()
        elif row.status == "good":
            status = CertStatus.good()
        else:
            assert row.revoked_at is not None
            reason = x509.ReasonFlags(row.reason) if row.reason else None
            status = CertStatus.revoked(row.revoked_at, reason)
        next_update = now + self.validity
        der = build_ocsp_response(
            issuer=authority.root, signer=self.service.signer(authority.id), cert_id=cert_id,
            status=status, this_update=now, next_update=next_update, produced_at=now,
            nonce=info.nonce)
        answer = OcspAnswer(der, now, next_update, cacheable=info.nonce is None)
        if info.nonce is None:
            self._store(request, _Entry(answer, serial, authority.id), revision)
        return answer

    def _issuer_of(self, cert_id) -> Optional[LoadedAuthority]:
        """The authority generation whose name and key hashes the CertID carries (None for
        ``cert_id`` None: only load them)."""
        if not self._issuers:
            issuers = [(issuer_hashes(a.root), a) for a in self.service.authorities()]
            self._simple = {b"".join(h["sha1"]): a for h, a in issuers}
            self._issuers = issuers
        if cert_id is None:
            return None
        for hashes, a in self._issuers:
            if cert_id.matches(hashes):
                return a
        return None

    def _store(self, request: bytes, entry: _Entry, revision: int) -> None:
        with self._lock:
            # A change committed after our status read and already synced would not drop this
            # entry: keep only answers read at the revision we know to be current.
            if self._revisions.get(entry.authority_id, 0) > revision:
                return
            if len(self._cache) >= self.max_entries:
                oldest = next(iter(self._cache))  # O(1) on an OrderedDict
                self._forget(oldest)
            self._cache[request] = entry
            self._by_serial.setdefault(entry.serial, set()).add(request)

    def _forget(self, request: bytes) -> None:
        entry = self._cache.pop(request, None)
        if entry is not None:
            keys = self._by_serial.get(entry.serial)
            if keys is not None:
                keys.discard(request)
                if not keys:
                    del self._by_serial[entry.serial]

    # --- invalidation ------------------------------------------------------------------------

    def sync(self) -> bool:
        """Read the authorities' revisions; drop the answers of every certificate whose status
        changed since the last sync. True when something changed."""
        with self.service.store.engine.connect() as conn:
            current = q.revisions(conn)
            changed: list[str] = []
            for authority_id, revision in current.items():
                seen = self._revisions.get(authority_id)
                if seen is None and not self._revisions:
                    continue  # first sync: nothing cached from before
                if seen != revision:
                    changed.extend(q.changed_since(conn, authority_id, seen or 0))
        with self._lock:
            first = not self._revisions
            if not first and set(current) - set(self._revisions):
                # A new root generation (``authorities rollover``, maybe in another process):
                # load it, so its certificates are answered and it issues here too.
                self.service.authorities(reload=True)
                self._issuers = []
                self._simple = {}
            self._revisions = current
            for serial in changed:
                for request in list(self._by_serial.get(serial, ())):
                    self._forget(request)
        return bool(changed) and not first

    def revision(self, authority_id: int) -> int:
        """The authority's revision as of the last :meth:`sync`."""
        return self._revisions.get(authority_id, 0)

    def close(self) -> None:
        self.lookup.close()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._by_serial.clear()

    def __len__(self) -> int:
        return len(self._cache)

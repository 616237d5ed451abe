"""The two authorities as use cases: create them, issue, revoke, hold, make CRLs.

Each use case combines ``openjpki.pki`` (the certificates and their signatures) with
``openjpki.store`` (the records) in one transaction. Time is an argument (``now``/``at``);
nothing here reads the clock. A caller that has its own transaction (a counter procedure
issuing a card) passes ``session=`` and commits itself; otherwise each call commits.

Status changes follow R4.3 through :func:`openjpki.rules.status_transition`: good → revoked,
good → hold, hold → revoked; a hold is never released and a revocation is final. A renewed
certificate supersedes the holder's live one of the same kind (R3.7).
"""

from __future__ import annotations

import os
import secrets
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openjpki.pki import (
    Kind, ProfileOptions, SignFacts, Signer, build_crl, encode_revoked_entry, make_root,
    write_crl,
)
from openjpki.rules import Refused, status_transition
from openjpki.rules.revocation import Reason
from openjpki.services.authority_types import (  # re-exported
    AuthorityError, CertificateRecord, GeneratedCrl, LoadedAuthority, NotInitialised, Roots,
    TransitionRefused, UnknownCertificate, UnknownGeneration, UnknownPartition, WrittenCrlFile,
)
from openjpki.services.authority_issue import IssueRequest, issue_many
from openjpki.services.authority_setup import SetupError
from openjpki.services.keystore import FileKeys, HomeKeys
from openjpki.store import Authority, Certificate, Store
from openjpki.store import ocsp_queries as oq
from openjpki.store import queries as q

DEFAULT_CRL_VALIDITY = timedelta(hours=24)


def crl_path(generation: int) -> str:
    """Where a generation's CRLs are published (URL path, and the same layout under the
    home's ``crl`` directory): ``/crl`` for the first, ``/crl/g2`` for the second, …"""
    return "/crl" if generation == 1 else f"/crl/g{generation}"


__all__ = [
    "AuthorityError", "AuthorityService", "CertificateRecord", "DEFAULT_CRL_VALIDITY",
    "GeneratedCrl", "IssueRequest", "LoadedAuthority", "NotInitialised", "Roots", "TransitionRefused",
    "UnknownCertificate", "UnknownGeneration", "UnknownPartition", "WrittenCrlFile", "crl_path",
    "initialise",
]


def initialise(store: Store, keys_dir: Path, passphrase: bytes, *, now: datetime,
               environment: str = "test", keys: Optional[HomeKeys] = None) -> Roots:
    """Create the schema and the two authorities (SIGN, AUTH) with their keys (files in
    ``keys_dir``, or where ``keys`` puts new keys: a PKCS#11 token); when they exist already,
    change nothing and return the same roots (safe to run twice, also from two processes at
    once: the loser of a race reads the winner's rows)."""
    keys = keys or HomeKeys(FileKeys(keys_dir, passphrase))
    store.migrate()
    roots: dict[str, x509.Certificate] = {}
    for kind in Kind:
        with store.sessions() as s:
            existing = q.current_authority(s, kind.value)
        if existing is not None:
            if existing.environment != environment:
                raise AuthorityError(
                    f"the authorities were created for the {existing.environment} environment, "
                    f"not {environment}: use another home (or database) for {environment}")
            roots[kind.value] = x509.load_der_x509_certificate(existing.root_der)
            continue
        try:
            root = add_generation(store, keys, kind, 1, environment, now)
        except IntegrityError:
            with store.sessions() as s:
                existing = q.current_authority(s, kind.value)
            assert existing is not None
            root = x509.load_der_x509_certificate(existing.root_der)
        roots[kind.value] = root
    return Roots(sign=roots["sign"], auth=roots["auth"])


def add_generation(store: Store, keys: HomeKeys, kind: Kind, generation: int,
                   environment: str, now: datetime,
                   also: Optional[Callable[[Session, Authority, x509.Certificate], None]] = None,
                   ) -> x509.Certificate:
    """One authority generation: its key (a file, made or read when it exists; or a new key
    pair in the token), its self-signed root, its row and its CRL counter — and ``also``
    (an audit record) in the same transaction. IntegrityError when the row exists already."""
    key_file, signer = keys.create(kind.value, generation)
    root = make_root(kind, signer, not_before=now,
                     options=ProfileOptions(environment=environment))  # type: ignore[arg-type]
    with store.transaction() as s:
        row = Authority(kind=kind.value, generation=generation, environment=environment,
                        root_der=root.public_bytes(serialization.Encoding.DER),
                        key_file=key_file, options={}, revision=0, created_at=now)
        s.add(row)
        s.flush()
        q.ensure_crl_series(s, row.id, "")
        if also is not None:
            also(s, row, root)
    return root


class AuthorityService:
    """Issue, revoke, hold and publish for the two authorities of one store."""

    def __init__(self, store: Store, *, keys_dir: Path, passphrase: bytes | Callable[[], bytes],
                 options: ProfileOptions = ProfileOptions(),
                 crl_validity: timedelta = DEFAULT_CRL_VALIDITY,
                 keys: Optional[HomeKeys] = None) -> None:
        self.store = store
        self.keys_dir = Path(keys_dir)
        self.keys = keys or HomeKeys(FileKeys(self.keys_dir, passphrase))
        self.options = options
        self.crl_validity = crl_validity
        self._authorities: dict[int, LoadedAuthority] = {}
        self._signers: dict[int, Signer] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._known_series: set[tuple[int, str]] = set()  # CRL partitions known to exist
        self._options: dict[int, tuple[object, ProfileOptions]] = {}  # (the options it came from, it)

    # --- the authorities --------------------------------------------------------------------

    def authorities(self, *, reload: bool = False) -> list[LoadedAuthority]:
        """Every authority generation of the store (cached; NotInitialised when none)."""
        if reload or not self._authorities:
            with self.store.sessions() as s:
                rows = q.all_authorities(s)
            loaded = {a.id: LoadedAuthority(a.id, a.kind, a.generation, a.environment,
                                            x509.load_der_x509_certificate(a.root_der), a.key_file)
                      for a in rows}
            with self._lock:
                self._authorities = loaded
        if not {a.kind for a in self._authorities.values()} >= {"sign", "auth"}:
            raise NotInitialised()
        return list(self._authorities.values())

    def current(self, kind: Kind | str) -> LoadedAuthority:
        """The issuing (newest) generation of ``kind``."""
        kind = Kind(kind).value
        candidates = [a for a in self.authorities() if a.kind == kind]
        return max(candidates, key=lambda a: a.generation)

    def generations(self, kind: Kind | str) -> list[LoadedAuthority]:
        """Every generation of ``kind``, oldest first (real JPKI has several roots of one DN
        in use at once; PROFILES.md)."""
        kind = Kind(kind).value
        return sorted((a for a in self.authorities() if a.kind == kind), key=lambda a: a.generation)

    def generation(self, kind: Kind | str, generation: int) -> LoadedAuthority:
        """One generation of ``kind``; UnknownGeneration."""
        for a in self.generations(kind):
            if a.generation == generation:
                return a
        raise UnknownGeneration(Kind(kind).value, generation)

    def authority(self, authority_id: int) -> LoadedAuthority:
        found = self._authorities.get(authority_id)
        if found is None:
            found = {a.id: a for a in self.authorities(reload=True)}.get(authority_id)
        if found is None:
            raise NotInitialised()
        return found

    def root(self, kind: Kind | str) -> x509.Certificate:
        return self.current(kind).root

    def signer(self, authority_id: int) -> Signer:
        """The authority's key, opened once from its file or token (and checked against its
        root). SetupError when it cannot be used."""
        signer = self._signers.get(authority_id)
        if signer is not None:
            return signer
        a = self.authority(authority_id)
        try:
            signer = self.keys.open(a.key_file)
        except SetupError as e:
            raise SetupError(f"the key of the {a.kind} authority: {e}") from None
        if signer.public_key().public_numbers() != a.root.public_key().public_numbers():
            raise SetupError(f"{a.key_file} is not the key of the {a.kind} root in the store")
        self._signers[authority_id] = signer
        return signer

    def options_for(self, a: LoadedAuthority) -> ProfileOptions:
        """The profile options of ``a``'s certificates: one object per authority, so that
        issuing finds its compiled profile by identity (openjpki.pki.issue) — made again when
        the service's own options were replaced (e.g. the CRL and OCSP URLs of a sandbox)."""
        cached = self._options.get(a.id)
        if cached is not None and cached[0] is self.options:
            return cached[1]
        found = ProfileOptions(environment=a.environment,  # type: ignore[arg-type]
                               crl_url_base=self.options.crl_url_base,
                               ocsp_url=self.options.ocsp_url, crl_path=crl_path(a.generation))
        self._options[a.id] = (self.options, found)
        return found

    def rollover(self, kind: Kind | str, *, now: datetime) -> LoadedAuthority:
        """A new generation of ``kind``: a new key file and a new self-signed root of the same
        DN (PROFILES.md: generations share the name, verifiers tell them apart by key). It
        issues from now on; the earlier generations keep answering OCSP and publishing
        their own CRLs for the certificates they issued. AuthorityError when another process
        made the same generation at the same moment."""
        kind = Kind(kind)
        newest = self.current(kind)
        generation = newest.generation + 1
        try:
            add_generation(self.store, self.keys, kind, generation, newest.environment, now)
        except IntegrityError:
            raise AuthorityError(f"generation {generation} of the {kind.value} authority was made "
                                 "at the same moment by another process") from None
        self.authorities(reload=True)
        self._notify()
        return self.generation(kind, generation)

    # --- change notification -----------------------------------------------------------------

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        """Called after a status change this service committed (OCSP and CRL caches)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    @contextmanager
    def _transaction(self, session: Optional[Session]) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with self.store.transaction() as s:
            yield s

    # --- use cases ---------------------------------------------------------------------------

    def issue(self, kind: Kind | str, public_key, *, last_valid_day: date, now: datetime,
              subject_id: Optional[str] = None, prefecture: Optional[str] = None,
              municipality: Optional[str] = None, facts: Optional[SignFacts] = None,
              resident_id: Optional[str] = None, supersede: bool = True,
              session: Optional[Session] = None) -> CertificateRecord:
        """Issue and store a certificate for ``public_key`` (the card's key). With a
        ``resident_id`` and ``supersede``, the resident's live certificate of the same kind is
        revoked as superseded in the same transaction (R3.7). ValueError for anything the
        profile refuses (pki's messages)."""
        req = IssueRequest(kind, public_key, last_valid_day, subject_id, prefecture,
                           municipality, facts, resident_id, supersede)
        return issue_many(self, [req], now=now, session=session)[0]

    def issue_many(self, requests: Iterable[IssueRequest], *, now: datetime,
                   session: Optional[Session] = None) -> list[CertificateRecord]:
        """Bulk issuance (loading, batched renewals): every request signed, then all stored
        in ONE transaction with one INSERT (:mod:`openjpki.services.authority_issue`)."""
        return issue_many(self, requests, now=now, session=session)

    def revoke(self, serial: str, reason: Reason | str, *, at: datetime,
               session: Optional[Session] = None) -> CertificateRecord:
        """Revoke with a final RFC 5280 reason (R4.3). ``certificateHold`` means :meth:`hold`.
        A held certificate keeps the moment of its hold as revocationDate: it has not been
        usable since then. UnknownCertificate, TransitionRefused."""
        reason = Reason.parse(reason)
        target = "hold" if reason is Reason.CERTIFICATE_HOLD else "revoked"
        return self._change(serial, target, reason, at, session)

    def hold(self, serial: str, *, at: datetime, session: Optional[Session] = None) -> CertificateRecord:
        """Put on hold (certificateHold, published at once, never released: R4.3)."""
        return self._change(serial, "hold", Reason.CERTIFICATE_HOLD, at, session)

    def _change(self, serial: str, target: str, reason: Reason, at: datetime,
                session: Optional[Session]) -> CertificateRecord:
        serial = q.parse_serial(serial)
        with self._transaction(session) as s:
            record = self._transition(s, serial, target, reason, at)
        if session is None:
            self._notify()
        return record

    def _transition(self, s: Session, serial: str, target: str, reason: Reason,
                    at: datetime) -> CertificateRecord:
        for _ in range(5):
            current = s.execute(
                select(Certificate).where(Certificate.serial == serial)
                .execution_options(populate_existing=True)).scalar_one_or_none()
            if current is None:
                raise UnknownCertificate(serial)
            decision = status_transition(current.status, target, reason)
            if isinstance(decision, Refused):
                raise TransitionRefused(decision)
            revoked_at = current.revoked_at if current.status == "hold" else at
            assert revoked_at is not None
            entry = encode_revoked_entry(int(serial, 16), revoked_at, x509.ReasonFlags(reason.value))
            seq = q.bump_revision(s, current.authority_id)
            if q.set_status(s, serial, expected_status=current.status, status=target,
                            reason=reason.value, revoked_at=revoked_at, revoked_entry=entry,
                            changed_at=at, change_seq=seq):
                oq.invalidate(s, serial, current.authority_id, seq)  # re-signed at once
                s.expire(current)
                s.refresh(current)
                return CertificateRecord.of(current)
        raise AuthorityError(f"certificate {serial} kept changing under us; try again")

    def get(self, serial: str) -> CertificateRecord:
        serial = q.parse_serial(serial)
        with self.store.sessions() as s:
            c = q.find_certificate(s, serial)
            if c is None:
                raise UnknownCertificate(serial)
            return CertificateRecord.of(c)

    def list(self, *, resident_id: Optional[str] = None, status: Optional[str] = None,
             kind: Optional[str] = None) -> list[CertificateRecord]:
        with self.store.sessions() as s:
            return [CertificateRecord.of(c) for c in
                    q.list_certificates(s, resident_id=resident_id, status=status, kind=kind)]

    def partitions(self, generation: Optional[int] = None) -> list[str]:
        """The SIGN CRL partitions (issuing municipalities) of the current SIGN authority (or
        of one generation)."""
        a = self.current(Kind.SIGN) if generation is None else self.generation(Kind.SIGN, generation)
        with self.store.sessions() as s:
            return [p.partition for p in q.crl_partitions(s, a.id)]

    def _crl_plan(self, kind: Kind | str, partition: Optional[str], generation: Optional[int]):
        """(kind, authority, (prefecture, municipality) or None) of a CRL to make: of the
        current generation, or of ``generation`` (UnknownGeneration)."""
        kind = Kind(kind)
        a = self.current(kind) if generation is None else self.generation(kind, generation)
        place = None
        if partition is not None:
            if kind is not Kind.SIGN:
                raise UnknownPartition(partition)
            with self.store.sessions() as s:
                series = q.crl_series(s, a.id, partition)
            if series is None:
                raise UnknownPartition(partition)
            place = (series.prefecture, series.municipality)
        return kind, a, place

    def crl(self, kind: Kind | str, partition: Optional[str] = None, *, now: datetime,
            validity: Optional[timedelta] = None, generation: Optional[int] = None) -> GeneratedCrl:
        """A new CRL of the current ``kind`` authority, or of one of its generations (or of
        one SIGN partition), numbered from its own series, made by streaming the stored
        entries. The CRL is returned in memory: for an authority's full list,
        :meth:`write_crl` writes it to a file instead."""
        kind, a, place = self._crl_plan(kind, partition, generation)
        validity = validity or self.crl_validity
        signer = self.signer(a.id)
        with self.store.transaction() as s:
            number = q.next_crl_number(s, a.id, partition or "", now)
        count = 0
        with self.store.engine.connect() as conn:
            revision = q.revisions(conn).get(a.id, 0)

            def counted() -> Iterator[bytes]:
                nonlocal count
                for entry in q.stream_revoked_entries(conn, a.id, partition):
                    count += 1
                    yield entry

            der = build_crl(issuer=a.root, signer=signer, entries=counted(), crl_number=number,
                            this_update=now, next_update=now + validity, partition=place)
        return GeneratedCrl(kind.value, partition, number, der, count, now, now + validity,
                            a.id, revision, a.generation)

    def write_crl(self, kind: Kind | str, path: Path, partition: Optional[str] = None, *,
                  now: datetime, validity: Optional[timedelta] = None,
                  generation: Optional[int] = None) -> WrittenCrlFile:
        """:meth:`crl` written to ``path``, in constant memory whatever the number of entries
        (ten million and more): the stored entries stream from the database through
        :func:`openjpki.pki.write_crl`, which spools them next to ``path`` and signs the
        digest. The file appears complete or not at all (a temporary file, then renamed)."""
        kind, a, place = self._crl_plan(kind, partition, generation)
        validity = validity or self.crl_validity
        signer = self.signer(a.id)
        with self.store.transaction() as s:
            number = q.next_crl_number(s, a.id, partition or "", now)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with self.store.engine.connect() as conn, open(tmp, "w+b") as out:
                revision = q.revisions(conn).get(a.id, 0)
                written = write_crl(out, issuer=a.root, signer=signer,
                                    entry_batches=q.revoked_entry_batches(conn, a.id, partition),
                                    crl_number=number, this_update=now, next_update=now + validity,
                                    partition=place, spool_dir=str(path.parent))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return WrittenCrlFile(kind.value, partition, number, path, written.entries, written.size,
                              written.sha256, now, now + validity, a.id, revision, a.generation)

"""OCSP responses for the whole population, signed ahead of need.

Every certificate's response (no nonce, SHA-1 CertID: the RFC 5019 request) is signed by the
producer and kept in the store (``ocsp_responses``), where every ``serve`` process of every
node reads it with one lookup (``OcspResponder.stored``). A row is due when it has no
response yet (a new certificate), when its status changed (the change empties it in its own
transaction), or when its refresh time has come: between a half and three quarters of the
validity after thisUpdate (spread, so a population signed at once is not due at once), well
before nextUpdate; the responder stops serving a response an eighth of its validity before
nextUpdate and signs on demand instead, so a producer that falls behind costs speed, never
correctness.

Producers (``openjpki ocsp produce``, and a thread in each ``serve`` process) claim batches
of due rows for a lease: several run side by side without signing a row twice, and one that
crashes leaves its claimed rows due again when the lease ends; what is fresh is never
re-signed. Signing goes through the authority's :class:`~openjpki.pki.signer.Signer`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from cryptography import x509

from openjpki.pki import CertStatus, build_ocsp_response, issuer_hashes
from openjpki.pki.ocsp_lean import simple_cert_id
from openjpki.services.authority import AuthorityService, LoadedAuthority
from openjpki.store import ocsp_queries as oq

log = logging.getLogger("openjpki.ocsp")
DEFAULT_LEASE = timedelta(minutes=2)


def cert_status(status: str, reason: Optional[str], revoked_at: Optional[datetime]) -> CertStatus:
    """The OCSP status of a certificate row (a hold is revoked with certificateHold, R4.3)."""
    if status == "good":
        return CertStatus.good()
    assert revoked_at is not None
    return CertStatus.revoked(revoked_at, x509.ReasonFlags(reason) if reason else None)


@dataclass
class ProduceReport:
    """What one :meth:`OcspProducer.produce` did: responses signed, wall and CPU seconds (of
    the producing thread: store reads and writes included), and what was still due after."""

    signed: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    due_after: dict[str, int] = field(default_factory=dict)

    @property
    def per_cpu_second(self) -> float:
        return self.signed / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {"signed": self.signed, "seconds": round(self.seconds, 3),
                "cpu_seconds": round(self.cpu_seconds, 3),
                "signed_per_second": round(self.signed / self.seconds, 1) if self.seconds > 0 else 0.0,
                "signed_per_cpu_second": round(self.per_cpu_second, 1), "due": self.due_after}


def _name(a: LoadedAuthority) -> str:
    return f"{a.kind}-{a.generation}"


class OcspProducer:
    """Signs the due responses of every authority generation of ``service``."""

    def __init__(self, service: AuthorityService, *, validity: timedelta,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 batch: int = 1024, lease: timedelta = DEFAULT_LEASE, seed: Optional[int] = None) -> None:
        if validity < timedelta(minutes=1):
            raise ValueError("OCSP validity must be at least a minute")
        self.service = service
        self.validity = validity
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self._rng = random.Random(seed)

    def seed(self) -> int:
        """Rows for certificates the store holds without one (bulk loads); the number made."""
        with self.service.store.engine.begin() as conn:
            return oq.seed_missing(conn)

    def due(self, now: Optional[datetime] = None) -> dict[str, int]:
        """{"sign-1": n, …}: responses due at ``now`` per authority generation."""
        at = int((now or self.clock()).timestamp())
        authorities = self.service.authorities()
        with self.service.store.engine.connect() as conn:
            counts = oq.count_due(conn, at, [a.id for a in authorities])
        return {_name(a): counts[a.id] for a in authorities}

    def produce(self, *, stop: Optional[threading.Event] = None, limit: Optional[int] = None,
                count_due: bool = True) -> ProduceReport:
        """Sign what is due, batch after batch, until nothing is (or ``stop`` is set, or
        ``limit`` responses are signed); ``count_due``: say what is due after."""
        report = ProduceReport()
        started, cpu = time.perf_counter(), time.thread_time()
        authorities = self.service.authorities(reload=True)
        busy = True
        while busy and not (stop is not None and stop.is_set()):
            busy = False
            for a in authorities:
                room = self.batch if limit is None else min(self.batch, limit - report.signed)
                if room <= 0:
                    break
                n = self._produce_batch(a, room)
                report.signed += n
                busy = busy or n > 0
        report.seconds = time.perf_counter() - started
        report.cpu_seconds = time.thread_time() - cpu
        if count_due:
            report.due_after = self.due()
        return report

    def _produce_batch(self, a: LoadedAuthority, room: int) -> int:
        now = self.clock().replace(microsecond=0)
        at = int(now.timestamp())
        engine = self.service.store.engine
        with engine.begin() as conn:
            serials = oq.claim_due(conn, a.id, at, at + int(self.lease.total_seconds()), room)
        if not serials:
            return 0
        with engine.connect() as conn:
            rows = oq.statuses(conn, serials)
        signer = self.service.signer(a.id)
        issuer = b"".join(issuer_hashes(a.root)["sha1"])
        next_update = now + self.validity
        validity = int(self.validity.total_seconds())
        produced = []
        for row in rows:
            der = build_ocsp_response(
                issuer=a.root, signer=signer, cert_id=simple_cert_id(issuer, int(row.serial, 16)),
                status=cert_status(row.status, row.reason, row.revoked_at), this_update=now,
                next_update=next_update, produced_at=now)
            refresh = at + int(validity * (0.5 + 0.25 * self._rng.random()))
            produced.append({"k_serial": row.serial, "k_seq": row.change_seq, "k_der": der, "k_this": at,
                             "k_next": at + validity, "k_refresh": refresh})
        with engine.begin() as conn:
            oq.store_produced(conn, produced)
        return len(produced)

    def run(self, stop: threading.Event, *, idle: float = 1.0) -> None:
        """Produce until ``stop`` is set, looking for due rows every ``idle`` seconds when
        nothing is due (``serve``'s background thread). Rows of certificates loaded by other
        means than issuance are made by ``openjpki ocsp produce`` (:meth:`seed`), not here:
        that scan of every certificate would weigh on every start of every process."""
        while not stop.is_set():
            try:
                report = self.produce(stop=stop, count_due=False)
                if report.signed:
                    log.info("OCSP responses signed: %d (%.0f per CPU second)", report.signed,
                             report.per_cpu_second)
            except Exception:  # noqa: BLE001 — a store hiccup: try again after the pause
                log.exception("OCSP producer")
            stop.wait(idle)

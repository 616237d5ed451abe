"""Faults injected into the responders of a sandbox, for relying parties to test against.

OCSP (RFC 6960 §2.3 error answers and the rest):

- ``tryLater``, ``internalError``, ``unauthorized``: that OCSPResponse status, no body;
- ``stale``: a successful, signed answer that is out of date (thisUpdate and producedAt one
  validity period and an hour back, so nextUpdate was an hour ago);
- ``delay``: the normal answer, ``delay_ms`` late. Any other fault can carry a delay too.

CRL (the HTTP distribution points):

- ``stale``: a CRL whose nextUpdate is an hour past (made for an earlier moment);
- ``missing``: not published (HTTP 404 problem); ``unavailable``: HTTP 503 problem.

A fault holds for every certificate, for one authority (``kind`` ``sign``/``auth``) or, for
OCSP, one certificate (``serial``); the narrowest one that matches wins. ``off`` removes the
fault of that scope. Each change bumps the sandbox's revision (the running server drops its
cached answers) and is recorded in the audit log (``sandbox.fault.*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from openjpki.services.audit import record
from openjpki.store import Store, parse_serial
from openjpki.store import queries as q
from openjpki.store.sandbox import SandboxFault, all_faults, bump_revision, fault_at

ACTOR = "sandbox"
OFF = "off"
OCSP_FAULTS = ("tryLater", "internalError", "unauthorized", "stale", "delay")
CRL_FAULTS = ("stale", "missing", "unavailable")
FAULTS = {"ocsp": OCSP_FAULTS, "crl": CRL_FAULTS}
KINDS = ("sign", "auth")
MAX_DELAY_MS = 60_000


@dataclass(frozen=True)
class Fault:
    responder: str
    fault: str
    kind: str = ""     # '' every authority
    serial: str = ""   # '' every certificate
    delay_ms: int = 0

    @property
    def scope(self) -> str:
        return f"serial:{self.serial}" if self.serial else (self.kind or "all")

    def to_dict(self) -> dict:
        return {"responder": self.responder, "fault": self.fault, "scope": self.scope,
                "delay_ms": self.delay_ms}

    @classmethod
    def of(cls, row: SandboxFault) -> "Fault":
        return cls(row.responder, row.fault, row.kind, row.serial, row.delay_ms)


@dataclass(frozen=True)
class FaultSet:
    """A snapshot of the faults switched on (what the server consults per request)."""

    faults: tuple[Fault, ...] = ()

    def _of(self, responder: str) -> list[Fault]:
        return [f for f in self.faults if f.responder == responder]

    @property
    def ocsp_active(self) -> bool:
        return any(f.responder == "ocsp" for f in self.faults)

    @property
    def ocsp_needs_request(self) -> bool:
        """Whether a fault is scoped, so the request must be parsed to know if it applies."""
        return any(f.responder == "ocsp" and (f.kind or f.serial) for f in self.faults)

    @property
    def crl_active(self) -> bool:
        return any(f.responder == "crl" for f in self.faults)

    def match(self, responder: str, kind: str = "", serial: str = "") -> Optional[Fault]:
        """The narrowest fault for a certificate (``serial``) of authority ``kind``."""
        best: Optional[Fault] = None
        rank = -1
        for f in self._of(responder):
            if f.serial:
                r = 2 if f.serial == serial else -1
            elif f.kind:
                r = 1 if f.kind == kind else -1
            else:
                r = 0
            if r > rank:
                best, rank = f, r
        return best

    def summary(self, kind: str = "", serial: str = "") -> dict:
        """``{"ocsp": str, "crl": str}`` (CLI.md) at one scope, with the delay and the list
        of every fault switched on."""
        ocsp = next((f for f in self._of("ocsp") if f.kind == kind and f.serial == serial), None)
        crl = next((f for f in self._of("crl") if f.kind == kind and not f.serial), None)
        return {"ocsp": ocsp.fault if ocsp else OFF, "crl": crl.fault if crl else OFF,
                "ocsp_delay_ms": ocsp.delay_ms if ocsp else 0,
                "scope": Fault("ocsp", OFF, kind, serial).scope,
                "faults": [f.to_dict() for f in self.faults]}


def read_faults(store: Store) -> FaultSet:
    with store.sessions() as s:
        return FaultSet(tuple(Fault.of(r) for r in all_faults(s)))


def _scope(store: Store, responder: str, kind: Optional[str], serial: Optional[str]
           ) -> tuple[str, str]:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"--kind must be sign or auth (not {kind!r})")
    if serial is not None:
        if responder == "crl":
            raise ValueError("a CRL fault is for an authority (--kind), not one certificate")
        if kind is not None:
            raise ValueError("give --kind or --serial, not both (a serial names its authority)")
        serial = q.parse_serial(serial)
        with store.sessions() as s:
            if q.find_certificate(s, serial) is None:
                raise ValueError(f"no certificate with serial {serial}")
    return kind or "", serial or ""


def set_fault(store: Store, responder: str, fault: str, *, now: datetime,
              kind: Optional[str] = None, serial: Optional[str] = None,
              delay_ms: int = 0) -> dict:
    """Switch ``fault`` on (or ``off``) for ``responder`` at a scope; the summary at that
    scope. ValueError for a fault or scope that does not exist."""
    if responder not in FAULTS:
        raise ValueError(f"no responder {responder!r}: ocsp or crl")
    allowed = FAULTS[responder]
    if fault != OFF and fault not in allowed:
        raise ValueError(f"{responder} fault must be one of: {', '.join(allowed)}, {OFF} "
                         f"(not {fault!r})")
    if not isinstance(delay_ms, int) or not 0 <= delay_ms <= MAX_DELAY_MS:
        raise ValueError(f"--delay-ms must be 0 to {MAX_DELAY_MS}")
    if delay_ms and responder != "ocsp":
        raise ValueError("--delay-ms is for OCSP faults")
    if fault == "delay" and not delay_ms:
        raise ValueError("the delay fault needs --delay-ms N (N > 0)")
    if fault == OFF and delay_ms:
        raise ValueError("off switches the fault off; for late answers use: delay --delay-ms N")
    k, sn = _scope(store, responder, kind, serial)
    with store.transaction() as s:
        bump_revision(s, now)  # first: the writers' lock (see store.sandbox)
        row = fault_at(s, responder, k, sn)
        if fault == OFF:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(SandboxFault(responder=responder, kind=k, serial=sn, fault=fault,
                               delay_ms=delay_ms, created_at=now))
        else:
            row.fault, row.delay_ms = fault, delay_ms
        s.flush()
        record(s, f"sandbox.fault.{responder}", now, actor=ACTOR,
               subject=f"sandbox:{responder}", fault=fault, scope=Fault(responder, fault, k, sn).scope,
               delay_ms=delay_ms)
    return read_faults(store).summary(k, sn)


def clear_faults(store: Store, *, now: datetime) -> dict:
    """Every fault off."""
    with store.transaction() as s:
        bump_revision(s, now)  # first: the writers' lock (see store.sandbox)
        for row in all_faults(s):
            s.delete(row)
        s.flush()
        record(s, "sandbox.fault.clear", now, actor=ACTOR, subject="sandbox:faults")
    return read_faults(store).summary()


def fault_summary(store: Store, *, kind: Optional[str] = None, serial: Optional[str] = None
                  ) -> dict:
    k = kind or ""
    sn = parse_serial(serial) if serial else ""
    return read_faults(store).summary(k, sn)

"""The values and errors of the authority service (:mod:`openjpki.services.authority`
re-exports them): what callers get back from issuing, revoking and publishing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openjpki.rules import Refused
from openjpki.store import Certificate


class AuthorityError(Exception):
    """Base of the errors of this module (one line, safe to show)."""


class NotInitialised(AuthorityError):
    def __init__(self) -> None:
        super().__init__("the authorities do not exist yet: run `openjpki init`")


class UnknownCertificate(AuthorityError, LookupError):
    def __init__(self, serial: str) -> None:
        super().__init__(f"no certificate with serial {serial}")
        self.serial = serial


class UnknownPartition(AuthorityError, LookupError):
    def __init__(self, partition: str) -> None:
        super().__init__(f"no SIGN CRL partition {partition!r}")
        self.partition = partition


class UnknownGeneration(AuthorityError, LookupError):
    def __init__(self, kind: str, generation: int) -> None:
        super().__init__(f"the {kind} authority has no generation {generation}")
        self.kind = kind
        self.generation = generation


class TransitionRefused(AuthorityError):
    """A status change the rules refuse (R4.3); ``refusal`` carries rule and messages."""

    def __init__(self, refusal: Refused) -> None:
        super().__init__(f"{refusal.rule}: {refusal.message_en} / {refusal.message_ja}")
        self.refusal = refusal


@dataclass(frozen=True)
class CertificateRecord:
    """A stored certificate as the services and their callers see it."""

    serial: str
    kind: str
    status: str
    reason: Optional[str]
    not_before: datetime
    not_after: datetime
    subject_id: str
    resident_id: Optional[str]
    partition: Optional[str]
    revoked_at: Optional[datetime]
    der: bytes = field(repr=False)

    @classmethod
    def of(cls, c: Certificate) -> "CertificateRecord":
        return cls(c.serial, c.kind, c.status, c.reason, c.not_before, c.not_after, c.subject_id,
                   c.resident_id, c.partition, c.revoked_at, bytes(c.der))

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def to_dict(self) -> dict:
        """The JSON shape of ``cert list`` (CLI.md)."""
        return {"serial": self.serial, "kind": self.kind, "status": self.status,
                "reason": self.reason, "not_after": self.not_after.isoformat(),
                "resident_id": self.resident_id, "pem": self.pem}


@dataclass(frozen=True)
class Roots:
    sign: x509.Certificate
    auth: x509.Certificate

    def to_dict(self) -> dict:
        """The JSON shape of ``init`` (CLI.md)."""
        pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
        return {"sign_root": pem(self.sign), "auth_root": pem(self.auth)}


@dataclass(frozen=True)
class LoadedAuthority:
    id: int
    kind: str
    generation: int
    environment: str
    root: x509.Certificate
    key_file: str


@dataclass(frozen=True)
class GeneratedCrl:
    kind: str
    partition: Optional[str]
    number: int
    der: bytes = field(repr=False)
    entries: int
    this_update: datetime
    next_update: datetime
    authority_id: int
    revision: int  # the authority's revision when the entries were read
    generation: int = 1


@dataclass(frozen=True)
class WrittenCrlFile:
    """A CRL :meth:`AuthorityService.write_crl` wrote: where, how many entries, its digest."""

    kind: str
    partition: Optional[str]
    number: int
    path: Path
    entries: int
    size: int
    sha256: bytes = field(repr=False)
    this_update: datetime
    next_update: datetime
    authority_id: int
    revision: int  # the authority's revision when the entries were read
    generation: int = 1

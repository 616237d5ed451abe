"""The verification and linking core every relying-party front shares: the sample relying
party of ``/api/rp`` (services.relying_party_accounts) and the platform API
(services.platform).

- :meth:`VerificationCore.check`: a card's signature over the data, its certificate's path,
  validity, purpose (R1.1: SIGN for registration and replacement, AUTH for log-in) and
  revocation, with the verdict sorted into one :class:`Outcome` (what each front turns into
  its own status code) and, when good, the register's holder of the certificate (紐付け);
- :meth:`VerificationCore.status_of`: the same checks for a certificate held on record (the
  registered SIGN at log-in), without a signature;
- :func:`find_linked`: a registration by the certificate's own record, else by the holder
  the register links it to (a never-seen AUTH certificate of a registered holder).

A revocation source that cannot be reached says so with an :class:`Unavailable` answer; the
verdict is then :attr:`Outcome.UNAVAILABLE` (try again later), never a stale "good", and
never the "not ours" of a certificate the authorities did not issue.
"""

from __future__ import annotations

import enum
from functools import cached_property
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Optional, TypeVar

from openjpki.pki.verify import Purpose, VerificationResult, Verifier
from openjpki.pki.verify_model import BAD_SIGNATURE, EXPIRED, HOLD, REVOKED, Revocation
from openjpki.services.relying_party_links import LinkResolver

T = TypeVar("T")


class Outcome(enum.Enum):
    GOOD = "good"
    BAD_SIGNATURE = "bad-signature"   # the signature does not verify over the data
    NOT_TRUSTED = "not-trusted"       # not ours, wrong purpose, unknown to revocation
    ENDED = "ended"                   # revoked (R4.1, R3.7, R4.4), on hold (R4.3), expired (R2.1)
    UNAVAILABLE = "unavailable"       # the revocation source cannot answer now


@dataclass(frozen=True)
class Unavailable(Revocation):
    """A revocation source that is out of service (not one that does not know)."""


def unavailable(source: str, detail: str) -> Unavailable:
    return Unavailable("unknown", source, detail=detail)


@dataclass(frozen=True)
class Checked:
    """A verdict; ``holder`` (the register's holder of a good certificate) is looked up when
    first asked for — a log-in with an AUTH certificate already linked never needs it."""

    result: VerificationResult
    outcome: Outcome
    links: Optional[LinkResolver] = field(default=None, repr=False, compare=False)

    @cached_property
    def holder(self) -> Optional[str]:
        if self.outcome is not Outcome.GOOD or self.links is None or not self.result.serial:
            return None
        return self.links.holder_of(self.result.serial)

    @property
    def good(self) -> bool:
        return self.outcome is Outcome.GOOD

    @property
    def serial(self) -> str:
        return self.result.serial or ""


def outcome_of(result: VerificationResult) -> Outcome:
    if result.valid:
        return Outcome.GOOD
    if result.status in (REVOKED, HOLD, EXPIRED):
        return Outcome.ENDED
    if result.status == BAD_SIGNATURE:
        return Outcome.BAD_SIGNATURE
    if isinstance(result.revocation, Unavailable):
        return Outcome.UNAVAILABLE
    return Outcome.NOT_TRUSTED


class VerificationCore:
    """One verifier (asked for anew each time: a home's roots may change) and the links."""

    def __init__(self, verifier: Callable[[], Verifier], links: Optional[LinkResolver] = None) -> None:
        self._verifier = verifier
        self.links = links

    @property
    def verifier(self) -> Verifier:
        return self._verifier()

    def check(self, data: bytes, signature: bytes, certificate, purpose: Purpose, now: datetime) -> Checked:
        """The signature over exactly ``data`` and its certificate, for ``purpose``."""
        result = self.verifier.verify(data, signature, certificate, at=now, purpose=purpose)
        return Checked(result, outcome_of(result), self.links)

    def status_of(self, certificate, purpose: Purpose, now: datetime) -> Checked:
        """A certificate held on record, checked now (no signature)."""
        result = self.verifier.check_certificate(certificate, at=now, purpose=purpose)
        return Checked(result, outcome_of(result))

    def holder_of(self, serial: Optional[str]) -> Optional[str]:
        if not serial or self.links is None:
            return None
        return self.links.holder_of(serial)


def find_linked(serial: str, holder: Optional[str], by_certificate: Callable[[str], Optional[T]],
                by_holder: Callable[[str], Optional[T]]) -> tuple[Optional[T], bool]:
    """The registration of a certificate: by its own record, else (``True``: newly linked) by
    its holder's registration."""
    found = by_certificate(serial)
    if found is not None:
        return found, False
    if holder is None:
        return None, False
    found = by_holder(holder)
    return found, found is not None


__all__ = ["Checked", "Outcome", "Unavailable", "VerificationCore", "find_linked", "outcome_of", "unavailable"]

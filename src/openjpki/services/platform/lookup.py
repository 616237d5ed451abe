"""A log-in's reads in one statement: the provider, the AUTH certificate's record at the
authorities, the registration it is linked to, that registration's current SIGN certificate
and the SIGN certificate's record — one SELECT on one connection instead of four read
transactions (provider, AUTH status, registration, SIGN status).

The authorities' records read here are what :class:`PrefetchedRevocation` answers from while
the log-in's verifications run (the same answer ``StoreRevocation`` gives from the same row:
``relying_party.revocation_of``), so the revocation state a log-in decides on is read in that
one statement, at the moment of the call, never from a cache another process could have made
stale. A serial that was not read (another certificate) is asked of the store as before.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Optional

from sqlalchemy import and_, bindparam, select

from openjpki.pki.path import TrustAnchor
from openjpki.pki.verify_cert import CertInfo
from openjpki.pki.verify_model import Revocation, RevocationSource
from openjpki.services.platform.answers import Identity
from openjpki.services.relying_party import revocation_of
from openjpki.store import Store, serial_hex
from openjpki.store.models import Certificate
from openjpki.store.platform import PlatformCertificate, PlatformProvider, PlatformRegistration
from openjpki.store.queries import StatusRow

_P, _R = PlatformProvider.__table__, PlatformRegistration.__table__
_LINK, _SIGN = PlatformCertificate.__table__.alias("link"), PlatformCertificate.__table__.alias("sign")
_AUTH_AT, _SIGN_AT = Certificate.__table__.alias("auth_at"), Certificate.__table__.alias("sign_at")


def _status_columns(table, prefix: str) -> list:
    return [table.c.serial.label(f"{prefix}_serial"), table.c.authority_id.label(f"{prefix}_authority"),
            table.c.status.label(f"{prefix}_status"), table.c.reason.label(f"{prefix}_reason"),
            table.c.revoked_at.label(f"{prefix}_revoked_at")]


# Built once (compiled once per engine by SQLAlchemy's cache): the provider by name, left
# joined to everything else, so a known provider always gives one row.
_LOGIN = (select(_P.c.id.label("provider"), _P.c.enabled, *_status_columns(_AUTH_AT, "auth"),
                 _LINK.c.kind.label("link_kind"), _R.c.id.label("registration"), _R.c.applicant_id,
                 _R.c.tis_user_id, _R.c.name, _R.c.date_of_birth, _R.c.gender, _R.c.address,
                 _SIGN.c.der.label("sign_der"), *_status_columns(_SIGN_AT, "sign"))
          .select_from(_P)
          .outerjoin(_AUTH_AT, _AUTH_AT.c.serial == bindparam("serial"))
          .outerjoin(_LINK, and_(_LINK.c.provider_id == _P.c.id, _LINK.c.serial == bindparam("serial")))
          .outerjoin(_R, _R.c.id == _LINK.c.registration_id)
          .outerjoin(_SIGN, and_(_SIGN.c.registration_id == _R.c.id, _SIGN.c.kind == "sign",
                                 _SIGN.c.current.is_(True)))
          .outerjoin(_SIGN_AT, _SIGN_AT.c.serial == _SIGN.c.serial)
          .where(_P.c.name == bindparam("sender")))


@dataclass(frozen=True)
class LoginFacts:
    """What the one read found (``registration`` None: the AUTH certificate is not linked
    at this provider yet, or is linked as something else)."""

    provider: int
    enabled: bool
    statuses: dict[str, Optional[StatusRow]]
    registration: Optional[int]
    link_kind: Optional[str]
    applicant_id: Optional[str]
    identity: Optional[Identity]
    sign_der: Optional[bytes]


def _status(row, prefix: str) -> Optional[StatusRow]:
    if getattr(row, f"{prefix}_serial") is None:
        return None
    return StatusRow(getattr(row, f"{prefix}_authority"), getattr(row, f"{prefix}_status"),
                     getattr(row, f"{prefix}_reason"), getattr(row, f"{prefix}_revoked_at"))


def read_login(store: Store, sender: str, auth_serial: str) -> Optional[LoginFacts]:
    """The log-in's reads for ``sender`` and the AUTH certificate's serial (lowercase hex);
    None when no provider has that name."""
    with store.engine.connect() as conn:
        row = conn.execute(_LOGIN, {"sender": sender, "serial": auth_serial}).first()
    if row is None:
        return None
    statuses = {auth_serial: _status(row, "auth")}  # None: not issued by the authorities
    if row.sign_serial is not None:
        statuses[row.sign_serial] = _status(row, "sign")
    identity = None
    if row.registration is not None:
        identity = Identity(row.tis_user_id, row.name, row.date_of_birth, row.gender, row.address)
    return LoginFacts(row.provider, bool(row.enabled), statuses, row.registration, row.link_kind,
                      row.applicant_id, identity, bytes(row.sign_der) if row.sign_der is not None else None)


_READ: ContextVar[Optional[dict[str, Optional[StatusRow]]]] = ContextVar("openjpki_platform_read", default=None)


@contextmanager
def answering_from(statuses: dict[str, Optional[StatusRow]]) -> Iterator[None]:
    """While the block runs (in this thread or task), :class:`PrefetchedRevocation` answers
    for these serials from these rows."""
    token = _READ.set(statuses)
    try:
        yield
    finally:
        _READ.reset(token)


class PrefetchedRevocation:
    """The store's revocation, answered from the rows the call has just read when it read
    the certificate's (:func:`answering_from`), else asked of ``source``."""

    def __init__(self, source: RevocationSource) -> None:
        self.source = source

    def check(self, cert: CertInfo, anchor: TrustAnchor, at: datetime) -> Optional[Revocation]:
        read = _READ.get()
        if read is not None and cert.serial > 0:
            serial = serial_hex(cert.serial)
            if serial in read:
                return revocation_of(read[serial], at)
        return self.source.check(cert, anchor, at)


__all__ = ["LoginFacts", "PrefetchedRevocation", "answering_from", "read_login"]

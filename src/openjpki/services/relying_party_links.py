"""Who holds a certificate, as the register links them: the link a platform provider gives
relying parties between a holder's old and new certificates (a SIGN revoked by a move and the
one issued after it, R4.1/R4.5; a renewed one and its predecessor, R3.7) and between the SIGN
and AUTH certificates of one holder.

The holder key is ``resident:<id>``: first from the counter's records (the card a certificate
was written to, and that card's resident), else from the authorities' own record of the
certificate's resident.  A certificate the authorities issued to no known resident has no
holder key, and cannot be linked.
"""

from __future__ import annotations

from typing import Optional, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from openjpki.store import Certificate, Store


class LinkResolver(Protocol):
    def holder_of(self, serial: str) -> Optional[str]:
        """The holder key of the certificate with this serial (lowercase hex), or None."""
        ...


class RegisterLinks:
    """Links through the authorities' store and, when present, the counter's card records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def holder_of(self, serial: str) -> Optional[str]:
        with self.store.sessions() as s:
            try:
                from openjpki.store.counter_models import Card, CardCertificate

                resident = s.execute(
                    select(Card.resident_id).join(CardCertificate, CardCertificate.card_id == Card.id)
                    .where(CardCertificate.serial == serial)).scalar_one_or_none()
            except (ImportError, SQLAlchemyError):  # no counter tables in this store
                s.rollback()
                resident = None
            if resident is None:
                resident = s.execute(select(Certificate.resident_id).where(Certificate.serial == serial)
                                     ).scalar_one_or_none()
        return f"resident:{resident}" if resident not in (None, "") else None


class StaticLinks:
    """Links given as a mapping (tests; a relying party fed by a platform provider's file)."""

    def __init__(self, holders: dict[str, str] | None = None) -> None:
        self.holders = dict(holders or {})

    def holder_of(self, serial: str) -> Optional[str]:
        return self.holders.get(serial)

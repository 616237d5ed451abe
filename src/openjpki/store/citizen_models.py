"""The tables of the citizen-side services outside the counter.

- ``face_match_states``: the smartphone app's consecutive face-match failures per card and
  whether the app is locked for that card (R6.2: five in a row lock it; then the counter
  only). A PIN reset clears both (R6.5).
- ``kiosk_reservations``: a PIN reset prepared in the app, to be finished at a kiosk within
  24 hours (R6.2, R6.3). ``state``: ``open`` → ``used`` (the kiosk set the new PIN),
  ``expired`` (the kiosk found it older than 24 h) or ``void`` (replaced by a newer one).
- ``expiry_notices``: one row per certificate an expiry notice (有効期限通知書, R3.4) was sent
  for. The unique ``serial`` is what keeps a holder from getting the same notice twice, also
  when two batches run at once (the second insert finds the row and does nothing).
- ``konbini_issuances``: each certificate of residence (住民票の写し) a convenience-store
  kiosk printed after an AUTH login (R7.1, R7.2), with the digest of the PDF.

The expiry-notice selection (R3.4) looks certificates up by their last valid day: the index
``ix_card_certificates_notice`` on the counter's ``card_certificates`` is declared here, with
the query that needs it, and made by this part's migrations. It covers every column the
selection reads from that table (day, current, rule, serial, card, kind), so the daily run
walks the index alone and probes ``expiry_notices`` for each entry, never the table.

No PIN, face image or key is ever stored here; the face match keeps only counts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from openjpki.store.counter_models import CardCertificate
from openjpki.store.models import Base, UTCDateTime

RESERVATION_STATES = ("open", "used", "expired", "void")


class FaceMatchState(Base):
    __tablename__ = "face_match_states"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True,
                                         autoincrement=False)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    app_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KioskReservation(Base):
    __tablename__ = "kiosk_reservations"
    __table_args__ = (
        CheckConstraint("target IN ('sign', 'auth')", name="target"),
        CheckConstraint("state IN ('open', 'used', 'expired', 'void')", name="state"),
        Index(None, "card_id", "target", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    # The PIN to be reset (R6.2 SIGN, R6.3 AUTH).
    target: Mapped[str] = mapped_column(String(8))
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10), default="open")
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class ExpiryNotice(Base):
    __tablename__ = "expiry_notices"
    __table_args__ = (
        UniqueConstraint("serial"),
        Index(None, "resident_id"),
        Index(None, "batch_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The certificate the notice is about (the authorities' serial, lowercase hex).
    serial: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    not_after: Mapped[date] = mapped_column(Date)
    # The day of the batch that sent it, and the letter (one letter per card and expiry).
    batch_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(32))
    path: Mapped[Optional[str]] = mapped_column(String(500), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KonbiniIssuance(Base):
    __tablename__ = "konbini_issuances"
    __table_args__ = (
        UniqueConstraint("reference"),
        Index(None, "resident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    # The AUTH certificate the holder logged in with (R7.1).
    auth_serial: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(String(32))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


# R3.4: the expiry-notice batch selects by expiry day (see the module docstring).
Index("ix_card_certificates_notice", CardCertificate.not_after, CardCertificate.current,
      CardCertificate.expiry_rule, CardCertificate.serial, CardCertificate.card_id,
      CardCertificate.kind)

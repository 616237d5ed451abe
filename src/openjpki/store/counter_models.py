"""The counter's tables: cards, the certificates on them, applications and their visits, and
letters mailed.

- ``cards``: one My Number Card (its number, holder, dates, state, whether its face is up to
  date R5.2, the certificates declined on the application R5.10, the virtual card's id in the
  card store). The issuing secret is kept only encrypted (``issuing_secret_enc``) and the
  resident-registry PIN (住民基本台帳用暗証番号, R1.6) only as a salted scrypt hash with its
  failure count; neither is ever logged or returned by an API.
- ``card_certificates``: which certificate (serial, as the authorities' ``certificates`` table
  has it) is or was on which card; ``current`` marks the one live certificate per kind (R3.7).
- ``applications`` / ``visits``: one application per procedure, the visits it took (R5.4 the
  voluntary proxy's two visits) and its state.
- ``letters``: what the municipality mailed (the inquiry form 照会書兼回答書兼委任状 with a
  one-time reference, R5.4; notices).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from openjpki.store.models import Base, UTCDateTime

CARD_STATES = ("active", "returned", "expired", "voided", "lost")
# The codes of openjpki.rules.documents.Procedure (R5.1).
PROCEDURES = (
    "new_issuance",          # 新規発行: a new card (R5.10) or a certificate on the card (R3.3, R5.11)
    "renewal",               # 更新 (R3.1–R3.3)
    "reissue_after_change",  # SIGN again after a change of facts (R4.5)
    "pin_change",            # 暗証番号変更 (R1.7)
    "pin_reset",             # 暗証番号初期化・ロック解除 (R1.6, R6.5)
    "revocation",            # 失効 (R4.3)
    "hold",                  # 一時保留 (R4.3)
)
APPLICANT_TYPES = ("holder", "legal_representative", "voluntary_proxy")
APPLICATION_STATES = (
    "accepted",          # checked and waiting to be carried out (R5.9 deferred work)
    "inquiry_mailed",    # R5.4 visit 1 done, the inquiry form is in the mail
    "completed",
    "refused",
    "cancelled",
)
LETTER_KINDS = ("inquiry_form", "change_notice", "expiry_notice", "issuance_notice")
LETTER_STATES = ("sent", "answered", "void")


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("card_number"),
        UniqueConstraint("virtual_card_id"),
        CheckConstraint(
            "state IN ('active', 'returned', 'expired', 'voided', 'lost')", name="state"),
        Index(None, "resident_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_number: Mapped[str] = mapped_column(String(16))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="active")
    # R5.2: false from a change of facts until 記載事項変更 (the face is rewritten).
    face_up_to_date: Mapped[bool] = mapped_column(Boolean, default=True)
    # R5.10: certificates declined on the card application.
    sign_declined: Mapped[bool] = mapped_column(Boolean, default=False)
    auth_declined: Mapped[bool] = mapped_column(Boolean, default=False)
    virtual_card_id: Mapped[str] = mapped_column(String(64))
    issuing_secret_enc: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True)
    # The security code printed on the card (照合番号B ends with it), sealed with the
    # counter key like the issuing secret.
    security_code_enc: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True)
    # R1.6: the resident-registry PIN lives on the card (住基AP), which counts its tries;
    # these two only repeat the card's last answer for display.
    card_pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    card_pin_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state_changed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class CardCertificate(Base):
    __tablename__ = "card_certificates"
    __table_args__ = (
        UniqueConstraint("serial"),
        CheckConstraint("kind IN ('sign', 'auth')", name="kind"),
        Index(None, "card_id", "kind", "current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(8))
    # The serial as the authorities' certificates table has it (lowercase hex).
    serial: Mapped[str] = mapped_column(String(64))
    not_after: Mapped[date] = mapped_column(Date)
    expiry_rule: Mapped[str] = mapped_column(String(8))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    application_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("applications.id"), nullable=True)


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (Index(None, "resident_id", "state"), Index(None, "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    card_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cards.id"), nullable=True)
    procedure: Mapped[str] = mapped_column(String(20))
    applicant_type: Mapped[str] = mapped_column(String(24))
    # "sign", "auth" or "sign,auth": the certificates this application concerns.
    kinds: Mapped[str] = mapped_column(String(12), default="")
    state: Mapped[str] = mapped_column(String(16))
    office: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    # Non-secret details (documents seen, declined kinds, the decision's rule …). No PINs.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    refusal_rule: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    office: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    applicant_type: Mapped[str] = mapped_column(String(24))
    # "accepted", "inquiry_mailed", "completed", "refused", "pin_mismatch" …
    outcome: Mapped[str] = mapped_column(String(24))
    rule: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Letter(Base):
    __tablename__ = "letters"
    __table_args__ = (
        UniqueConstraint("reference"),
        CheckConstraint("state IN ('sent', 'answered', 'void')", name="state"),
        Index(None, "resident_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    application_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("applications.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    # A one-time reference printed on the letter (R5.4: the answer must name it).
    reference: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(10), default="sent")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    # What was mailed: address, delivery (転送不要の簡易書留), the procedure … Never PINs.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)

"""Look-ups the procedures share: a resident's card, the certificates on it and their status
as the authorities record it, and the JSON views of cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from openjpki.store import Certificate
from openjpki.store.counter_models import Card, CardCertificate


@dataclass(frozen=True)
class CertOnCard:
    """A certificate of a card with the authority's view of it."""

    link: CardCertificate
    status: str
    reason: str | None

    @property
    def kind(self) -> str:
        return self.link.kind

    @property
    def serial(self) -> str:
        return self.link.serial

    @property
    def not_after(self) -> date:
        return self.link.not_after

    def live_on(self, day: date) -> bool:
        """Good and not expired on ``day``."""
        return self.status == "good" and day <= self.link.not_after


def active_card(s: Session, resident_id: int, *, for_update: bool = False) -> Card | None:
    stmt = (select(Card).where(Card.resident_id == resident_id, Card.state == "active")
            .order_by(Card.id.desc()).limit(1))
    if for_update:
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar_one_or_none()


def card_by_id(s: Session, card_id: int, *, for_update: bool = False) -> Card | None:
    stmt = select(Card).where(Card.id == card_id)
    if for_update:
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar_one_or_none()


def card_by_number(s: Session, number: str) -> Card | None:
    return s.execute(select(Card).where(Card.card_number == number)).scalar_one_or_none()


def cards_of(s: Session, resident_id: int) -> list[Card]:
    return list(s.execute(select(Card).where(Card.resident_id == resident_id)
                          .order_by(Card.id)).scalars())


def current_certificates(s: Session, card_id: int) -> dict[str, CertOnCard]:
    """The newest certificate of each kind written to the card, with its status."""
    rows = s.execute(
        select(CardCertificate, Certificate.status, Certificate.reason)
        .join(Certificate, Certificate.serial == CardCertificate.serial)
        .where(CardCertificate.card_id == card_id, CardCertificate.current.is_(True))
        .execution_options(populate_existing=True)
    ).all()
    return {link.kind: CertOnCard(link, status, reason) for link, status, reason in rows}


def all_certificates(s: Session, card_id: int) -> list[CertOnCard]:
    rows = s.execute(
        select(CardCertificate, Certificate.status, Certificate.reason)
        .join(Certificate, Certificate.serial == CardCertificate.serial)
        .where(CardCertificate.card_id == card_id).order_by(CardCertificate.id)
    ).all()
    return [CertOnCard(link, status, reason) for link, status, reason in rows]


def card_dict(s: Session, card: Card) -> dict:
    """A card as the CLI and the API show it (never its secret or PIN hash)."""
    return {
        "id": card.id, "card_number": card.card_number, "resident_id": card.resident_id,
        "issued_on": card.issued_on.isoformat(), "expires_on": card.expires_on.isoformat(),
        "state": card.state, "face_up_to_date": card.face_up_to_date,
        "declined": [k for k, d in (("sign", card.sign_declined), ("auth", card.auth_declined))
                     if d],
        "virtual_card_id": card.virtual_card_id,
        "card_pin_locked": card.card_pin_locked,
        "certificates": [
            {"kind": c.kind, "serial": c.serial, "status": c.status, "reason": c.reason,
             "not_after": c.not_after.isoformat(), "expiry_rule": c.link.expiry_rule,
             "current": c.link.current}
            for c in all_certificates(s, card.id)],
    }

"""Cards whose own expiry calls for a notice (R3.4 with 001: the お知らせ covers the card).

Certificates never outlive their card (R2.1), so while a card has a live certificate the
certificate's notice tells of the card's expiry too (:mod:`notices`). A card can also come to
its end with no certificate due: an adult's certificates ended on the 5th birthday and were
not renewed, both were declined (R5.10) or revoked. Such a card still gets one notice, in the
same window as a certificate expiring that day (:func:`~openjpki.rules.expiry_notice_due`),
with the card's expiry on it.

Once: the claim is a row in ``expiry_notices`` with kind ``card`` and the key
:func:`card_claim_key` in the unique serial column (no certificate serial has a colon), made
by whichever letter tells of the card first — a certificate notice or this one. The batch
selects these cards after its certificate notices, so a card whose certificates were noticed
the same day is already claimed and gets no second letter. A card ended by the period of stay
gets none, as its certificates (001: 外国人住民で在留期間の定めがある方).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator

from sqlalchemy import Connection, and_, exists, or_, select

from openjpki.rules import expiry_notice_due
from openjpki.services.notices_select import notice_window
from openjpki.store.citizen_models import ExpiryNotice
from openjpki.store.counter_models import Card
from openjpki.store.residents import Resident

CARD_KIND = "card"


def card_claim_key(card_id: int) -> str:
    """The value in ``expiry_notices.serial`` that says the card's expiry was told."""
    return f"card:{card_id}"


@dataclass(frozen=True)
class DueCard:
    """A card whose expiry notice is due: the holder's facts as the letter prints them."""

    card_id: int
    card_number: str
    expires_on: date
    resident_id: int
    name: str
    address: str
    birth_date: date
    prefecture: str
    municipality: str
    postal_code: str | None

    @property
    def card_expires_on(self) -> date:
        return self.expires_on


def _card_filter(on: date):
    first, last = notice_window(on)
    return and_(
        Card.state == "active",
        Card.expires_on >= first, Card.expires_on <= last,
        Resident.on_register.is_(True),
        or_(Resident.stay_until.is_(None), Resident.stay_until != Card.expires_on),
        ~exists().where(ExpiryNotice.resident_id == Card.resident_id,
                        ExpiryNotice.card_id == Card.id, ExpiryNotice.kind == CARD_KIND),
    )


def cards_due_statement(on: date):
    """The SELECT of every card whose own notice is due on ``on`` and not yet told."""
    return (select(Card.id, Card.card_number, Card.expires_on, Card.resident_id, Resident.name,
                   Resident.address, Resident.birth_date, Resident.prefecture,
                   Resident.municipality, Resident.postal_code)
            .select_from(Card).join(Resident, Resident.id == Card.resident_id)
            .where(_card_filter(on)).order_by(Card.id))


def stream_cards_due(conn: Connection, on: date) -> Iterator[DueCard]:
    """The due cards, each checked once more by the rule itself."""
    for row in conn.execute(cards_due_statement(on)):
        if expiry_notice_due(row.expires_on, on):
            yield DueCard(*row)


__all__ = ["CARD_KIND", "DueCard", "card_claim_key", "cards_due_statement", "stream_cards_due"]

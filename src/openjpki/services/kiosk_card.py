"""What the smartphone app, the kiosk and the convenience-store terminal share: talking to
the holder's card through its APDU interface (the holder client over any transport — a
``VirtualCard`` in process, or a PC/SC reader), knowing which card it is, and turning the
card's answers into the rules' decisions.

The card is identified by the certificate read from it: its serial is looked up in the
counter's ``card_certificates``. The PIN the holder enters is checked by the card itself
(VERIFY); a wrong one uses a try there (R1.4), and the refusal says so in the rules' words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openjpki.card import CardError, JpkiClient, PinBlocked, WrongPin
from openjpki.rules import Refused, kiosk_reset_route, pin_for_kiosk_reset, pin_refused_by_card
from openjpki.rules.kinds import PinKind
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.residents import InputError, NotFound
from openjpki.store import serial_hex
from openjpki.store.counter_models import Card, CardCertificate

__all__ = ["CardRead", "InputError", "NotFound", "card_of_certificate", "forget_pins",
           "insert_ignore", "issuing_secret", "peek_serial", "pin_refusal",
           "read_other_for_reset", "read_with_pin"]


@dataclass(frozen=True)
class CardRead:
    """The certificate read off the card after the PIN was verified."""

    kind: PinKind
    der: bytes
    serial: str

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


def pin_refusal(e: WrongPin | PinBlocked, kind: PinKind) -> Refused:
    """The rules' answer to what the card said (:func:`~openjpki.rules.pin_refused_by_card`):
    a wrong PIN (R1.4, naming the tries left and the lock it caused) or a PIN already locked
    (R1.7)."""
    if isinstance(e, PinBlocked):
        return pin_refused_by_card(kind, locked=True)
    return pin_refused_by_card(kind, e.tries_left)


def read_with_pin(client: JpkiClient, kind: PinKind, pin: str) -> CardRead | Refused:
    """Select the JPKI AP, verify ``kind``'s PIN on the card and read its certificate
    (the SIGN certificate can only be read so)."""
    client.select_jpki()
    try:
        client.verify_pin(kind.value, pin)
    except (WrongPin, PinBlocked) as e:
        return pin_refusal(e, kind)
    der = client.read_certificate(kind.value)
    if der is None:
        raise InputError(f"the card holds no {kind.value.upper()} certificate")
    serial = serial_hex(x509.load_der_x509_certificate(der).serial_number)
    return CardRead(kind, der, serial)


def read_other_for_reset(client: JpkiClient, target: PinKind, other_pin: str | None
                         ) -> CardRead | Refused:
    """R6.1: the holder proves themselves with the OTHER certificate's PIN (the AUTH PIN to
    reset the SIGN PIN, the SIGN PIN to reset the AUTH PIN). Not known, or locked on the
    card: only the counter can reset (R6.1). Wrong: the card counts the try (R1.4)."""
    other = pin_for_kiosk_reset(target)
    if not other_pin:
        return kiosk_reset_route(target, knows_other_pin=False)  # type: ignore[return-value]
    client.select_jpki()
    if client.tries_left(other.value) == 0:
        return kiosk_reset_route(target, knows_other_pin=True,  # type: ignore[return-value]
                                 other_pin_locked=True)
    read = read_with_pin(client, other, other_pin)
    if isinstance(read, Refused) and read.rule == "R1.7":
        return kiosk_reset_route(target, knows_other_pin=True,  # type: ignore[return-value]
                                 other_pin_locked=True)
    return read


def peek_serial(client: JpkiClient) -> str | None:
    """The serial of the AUTH certificate, which any reader can read without a PIN (CARD.md
    EF 000A): enough to know which card this is. None when the card holds none."""
    der = client.read_certificate("auth")
    return serial_hex(x509.load_der_x509_certificate(der).serial_number) if der else None


def forget_pins(client: JpkiClient) -> None:
    """Leave the JPKI AP: the card forgets every verified PIN (docs/CARD.md)."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 — the card may have been taken out; nothing depends on it
        pass


def card_of_certificate(s: Session, serial: str, *, for_update: bool = False) -> Card:
    """The card that certificate was written to (NotFound when no card of this
    municipality ever held it)."""
    stmt = (select(Card).join(CardCertificate, CardCertificate.card_id == Card.id)
            .where(CardCertificate.serial == serial))
    if for_update:
        stmt = stmt.with_for_update(of=Card)
    card = s.execute(stmt).scalar_one_or_none()
    if card is None:
        raise NotFound(f"no card of this municipality holds the certificate {serial}")
    return card


def issuing_secret(ctx: CounterContext, card: Card) -> bytes:
    """The card's issuing secret, opened from the counter's store. The associated data is
    the one :mod:`openjpki.services.counter.cardops` seals it with (``card:<id>``)."""
    if card.issuing_secret_enc is None:
        raise CardError(f"card {card.card_number} has no issuing secret on record")
    return ctx.box.open(card.issuing_secret_enc, f"card:{card.virtual_card_id}")


def insert_ignore(s: Session, table: Any, values: dict, index_elements: list[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True when a row went in.
    A concurrent writer of the same key waits for the other's commit and then skips."""
    dialect = s.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = (ins.values(**values).on_conflict_do_nothing(index_elements=index_elements)
            .returning(*table.primary_key.columns))  # rowcount is -1 on psycopg here
    return s.execute(stmt).first() is not None


def proving_certificate_status(s: Session, serial: str) -> str | None:
    """The authority's status of the certificate whose PIN proved the holder (R6.1)."""
    from openjpki.store import Certificate

    return s.execute(select(Certificate.status).where(Certificate.serial == serial)
                     ).scalar_one_or_none()

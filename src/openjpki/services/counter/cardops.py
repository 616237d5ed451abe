"""The counter terminal's work on a card: create it, make key pairs on it, write the
certificates, set and change PINs — through the card's issuing API only (private keys never
leave the card; the terminal only ever sees public keys).

The card is outside the database transaction. Procedures therefore do every check first,
then the card work, and only then write their records; when a later step fails, the keys
made on the card in this procedure are erased again (:meth:`CardWork.undo`), so a card
never keeps a key whose certificate the authorities did not record.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.card import (
    CardError, IssuingTerminal, JpkiClient, KeyKind, PinBlocked, PinFormRefused, WrongPin,
)
from openjpki.rules import Refused, pin_refused_by_card, validate_pin
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.services.counter.context import CounterContext
from openjpki.store.counter_models import Card


def new_card_number() -> str:
    """A 12-digit card number (the real ones are printed on the back; ours are random)."""
    return f"{secrets.randbelow(10 ** 12):012d}"


def virtual_card_id(card_number: str) -> str:
    return f"mnc-{card_number}"


def create_virtual_card(ctx: CounterContext, card_number: str) -> tuple[str, bytes]:
    """Make a blank card in the card store; returns (virtual card id, sealed issuing secret).
    The clear secret is dropped here: from now on only the sealed form exists outside the
    card."""
    vid = virtual_card_id(card_number)
    secret = ctx.cards.create(vid)
    return vid, ctx.box.seal(secret, _context(vid))


def _context(vid: str) -> str:
    return f"card:{vid}"


@dataclass
class CardWork:
    """An open card with the issuing terminal and the holder-side client."""

    terminal: IssuingTerminal
    client: JpkiClient
    generated: list[KeyKind] = field(default_factory=list)

    def generate_key(self, kind: CertKind) -> rsa.RSAPublicKey:
        key = self.terminal.generate_key(kind.value)
        self.generated.append(KeyKind.of(kind.value))
        return key

    def install(self, kind: CertKind, der: bytes, ca_der: bytes) -> None:
        self.terminal.write_certificate(kind.value, der)
        self.terminal.write_ca_certificate(kind.value, ca_der)

    def set_pin(self, kind: CertKind, pin: str) -> None:
        """初期化: a new PIN with the full retry count, unlocked (R1.7, R6.5)."""
        self.terminal.reset_pin(kind.value, pin)

    def undo(self) -> None:
        """Erase the keys generated in this procedure (best effort)."""
        for kind in self.generated:
            try:
                self.terminal.erase_key(kind)
            except CardError:
                pass
        self.generated.clear()


@contextmanager
def open_card(ctx: CounterContext, card: Card) -> Iterator[CardWork]:
    """The card held by the counter terminal for the duration of the block; on an exception
    the keys made inside it are erased."""
    if card.issuing_secret_enc is None:
        raise CardError(f"card {card.card_number} has no issuing secret on record")
    secret = ctx.box.open(card.issuing_secret_enc, _context(card.virtual_card_id))
    vc = ctx.cards.open(card.virtual_card_id)
    try:
        vc.power_on()
        factory = ctx.terminal_factory or IssuingTerminal
        work = CardWork(factory(vc, secret), JpkiClient(vc))
        try:
            yield work
        except BaseException:
            work.undo()
            raise
    finally:
        vc.close()


def change_pin_on_card(work: CardWork, kind: CertKind, current: str, new: str
                       ) -> Refused | None:
    """R1.7: change a PIN with the current one; the card counts wrong tries (R1.4). The
    refusal comes from the rules (the same wording as the kiosk and the client)."""
    pin_kind = PinKind.parse(kind)
    try:
        work.client.select_jpki()
        work.client.change_pin(kind.value, current, new)
    except WrongPin as e:
        return pin_refused_by_card(pin_kind, e.tries_left)
    except PinBlocked:
        return pin_refused_by_card(pin_kind, locked=True)
    except PinFormRefused:
        decision = validate_pin(pin_kind, new)
        if isinstance(decision, Refused):
            return decision
        raise
    return None


def pin_state(work: CardWork, kind: CertKind) -> dict:
    """Tries left on the card for ``kind`` (no PIN involved)."""
    work.client.select_jpki()
    left = work.client.tries_left(kind.value)
    return {"tries_left": left, "locked": left == 0}

"""The kiosk's step of a PIN reset (R6.2–R6.5): set the new PIN on the card.

    out = kiosk_reset_pin(ctx, transport, "sign", other_pin="5678", new_pin="NEW123",
                          now=now)

1. Kiosks work 6:30–23:00 (R6.4); outside those hours the card is not even read.
2. The holder enters the OTHER PIN again (R6.1); the card checks it (a wrong one costs a
   try, R1.4) and the certificate read with it says which card this is.
3. There must be an open reservation from the app for this card and PIN, made at most 24
   hours earlier (R6.2, R6.3; :func:`~openjpki.rules.kiosk_reset_decision`).
4. The new PIN must have its form (R1.3); then it is set through the card's issuing path
   (``IssuingTerminal.reset_pin`` with the card's issuing secret from the counter's store),
   which also unblocks it, and the app's face-match lock and count are cleared (R6.5).

The reservation is then used (or expired, when the kiosk finds it too old) and each step is
in the audit log (``kiosk.pin_reset`` / ``kiosk.pin_reset.refused``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openjpki.card import IssuingTerminal, JpkiClient
from openjpki.card.client import Transport
from openjpki.rules import (
    KIOSK_HOURS, PinCounter, Refused, after_pin_reset, kiosk_identity_decision, kiosk_open,
    kiosk_reset_decision, pin_for_kiosk_reset, retry_limit,
)
from openjpki.rules.calendars import Hours
from openjpki.rules.kinds import PinKind
from openjpki.services.audit import record
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.queries import current_certificates
from openjpki.services.kiosk_card import (
    InputError, card_of_certificate, forget_pins, issuing_secret, proving_certificate_status,
    read_other_for_reset,
)
from openjpki.services.smartphone import clear_face_match, reset_target
from openjpki.store.citizen_models import KioskReservation
from openjpki.store.counter_models import Card

ACTOR = "kiosk"


@dataclass(frozen=True)
class KioskReset:
    """The new PIN is set; the lock and the failure count are cleared (R6.5)."""

    resident_id: int
    card_id: int
    card_number: str
    target: str
    reservation_id: int
    rule: str
    message_ja: str
    message_en: str

    outcome: ClassVar[str] = "pin_reset"
    allowed: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "allowed": True, "rule": self.rule,
                "resident_id": self.resident_id, "card_id": self.card_id,
                "card_number": self.card_number, "target": self.target,
                "reservation_id": self.reservation_id,
                "message_ja": self.message_ja, "message_en": self.message_en}


def kiosk_hours(ctx: CounterContext) -> Hours:
    """R6.4: the kiosk hours of the configured calendar (6:30–23:00 by default)."""
    return ctx.calendar.kiosk_hours if ctx.calendar is not None else KIOSK_HOURS


def kiosk_reset_pin(ctx: CounterContext, transport: Transport, target: "PinKind | str",
                    other_pin: str | None, new_pin: str, *, now: datetime,
                    kiosk_id: str = "kiosk-0001") -> KioskReset | Refused:
    """The kiosk step of a reset prepared in the app (see the module text)."""
    target = reset_target(target)
    hours = kiosk_hours(ctx)
    closed = kiosk_open(now, "R6.4", hours)
    if isinstance(closed, Refused):  # R6.4: the card is not read outside the hours
        with ctx.store.transaction() as s:
            _refused(s, None, target, closed, now, kiosk_id, stage="hours")
        return closed
    client = JpkiClient(transport)
    read = read_other_for_reset(client, target, other_pin)
    forget_pins(client)
    with ctx.store.transaction() as s:
        if isinstance(read, Refused):
            _refused(s, None, target, read, now, kiosk_id, stage="pin")
            return read
        card = card_of_certificate(s, read.serial, for_update=True)
        if (unproved := _unproved(s, card, target, read.serial, now, kiosk_id)) is not None:
            return unproved
        reservation = _open_reservation(s, card, target)
        if reservation is None:  # R6.2/R6.3: the kiosk step follows the app step
            refusal = kiosk_reset_decision(target, None, now, hours)
            _refused(s, card, target, refusal, now, kiosk_id, stage="reservation")
            return refusal
        decision = kiosk_reset_decision(target, reservation.prepared_at, now, hours)
        if isinstance(decision, Refused):
            if decision.rule != "R6.4":  # more than 24 hours: the reservation is spent
                reservation.state, reservation.closed_at = "expired", now
            _refused(s, card, target, decision, now, kiosk_id, stage="window",
                     reservation_id=reservation.id)
            return decision
        if target.value not in current_certificates(s, card.id):
            raise InputError(f"the card holds no {target.value.upper()} certificate to reset "
                             "the PIN of")
        tried = after_pin_reset(PinCounter(target, retry_limit(target), locked=True), new_pin)
        if isinstance(tried.decision, Refused):  # R1.3: checked before the card is touched
            _refused(s, card, target, tried.decision, now, kiosk_id, stage="new_pin",
                     reservation_id=reservation.id)
            return tried.decision
        reservation_id = reservation.id
        # Claimed here, before the card is touched: a second kiosk step racing this one
        # finds no open reservation (R6.2/R6.3: one app step, one reset).
        reservation.state, reservation.closed_at = "used", now
    # The card work, outside the transaction; then the records.
    _reset_on_card(ctx, transport, card, target, new_pin, reservation_id)
    forget_pins(client)
    with ctx.store.transaction() as s:
        clear_face_match(s, card, now)  # R6.5
        record(s, "kiosk.pin_reset", now, actor=ACTOR, subject=f"resident:{card.resident_id}",
               card_id=card.id, target=target.value, reservation_id=reservation_id,
               kiosk_id=kiosk_id, rule=tried.decision.rule)
    other = pin_for_kiosk_reset(target)
    return KioskReset(card.resident_id, card.id, card.card_number, target.value,
                      reservation_id, tried.decision.rule,
                      f"新しい{target.ja}を設定しました。ロックと誤入力の回数は解除されました"
                      f"（{other.ja}で本人確認）。",
                      f"The new {target.en} is set; the lock and the failure count are cleared "
                      f"(identity proved with the {other.en}).")


def _reset_on_card(ctx: CounterContext, transport: Transport, card: Card, target: PinKind,
                   new_pin: str, reservation_id: int) -> None:
    """Set the new PIN through the card's issuing path; when that fails the claimed
    reservation is open again."""
    try:
        IssuingTerminal(transport, issuing_secret(ctx, card)).reset_pin(target.value, new_pin)
    except BaseException:
        _reopen(ctx, reservation_id)
        raise


def _reopen(ctx: CounterContext, reservation_id: int) -> None:
    """The card work failed: the claimed reservation is open again for another try."""
    with ctx.store.transaction() as s:
        s.execute(update(KioskReservation).where(
            KioskReservation.id == reservation_id, KioskReservation.state == "used")
            .values(state="open", closed_at=None).execution_options(synchronize_session=False))


def _unproved(s: Session, card: Card, target: PinKind, serial: str, now: datetime,
              kiosk_id: str) -> Refused | None:
    """R6.1, R6.3: the other certificate's PIN proves the holder only while it is good (a
    revoked SIGN's PIN proves nothing); the refusal is recorded."""
    proved = kiosk_identity_decision(target, proving_certificate_status(s, serial))
    if isinstance(proved, Refused):
        _refused(s, card, target, proved, now, kiosk_id, stage="identity")
        return proved
    return None


def _open_reservation(s: Session, card: Card, target: PinKind) -> KioskReservation | None:
    return s.execute(
        select(KioskReservation).where(
            KioskReservation.card_id == card.id, KioskReservation.target == target.value,
            KioskReservation.state == "open")
        .order_by(KioskReservation.prepared_at.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()


def _refused(s: Session, card: Card | None, target: PinKind, refusal: Refused, now: datetime,
             kiosk_id: str, *, stage: str, **extra: Any) -> None:
    record(s, "kiosk.pin_reset.refused", now, actor=ACTOR,
           subject=f"resident:{card.resident_id}" if card is not None else None,
           card_id=card.id if card is not None else None, target=target.value,
           rule=refusal.rule, stage=stage, kiosk_id=kiosk_id, **extra)

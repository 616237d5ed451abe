"""The smartphone app's step of a PIN reset (R6.1–R6.3): prove the holder, then reserve the
kiosk step for 24 hours.

    out = prepare_pin_reset(ctx, transport, "sign", other_pin="5678", live_face=token,
                            now=now)
    if isinstance(out, Refused): print(out.rule, out.message_ja)

1. The app reads the chip through the card's APDU interface with the OTHER PIN (R6.1): the
   AUTH PIN to reset the SIGN PIN, the SIGN PIN to reset the AUTH PIN. A holder who knows
   neither, or whose other PIN is locked, is sent to the counter (R6.1).
2. For a SIGN reset the chip's photo is matched against the live face (R6.2) by a pluggable
   :class:`FaceMatcher`. Five consecutive failures lock the app for that card, persisted in
   ``face_match_states``; from then on only the counter can reset (R6.2). A reset — at the
   kiosk, or a PIN reset at the counter — clears the lock and the count (R6.5).
3. Success opens a reservation valid for 24 hours (R6.2, R6.3); any earlier open one for the
   same card and PIN is void.

Each step appends to the audit log (``smartphone.reset_prepared`` / ``…refused``); no PIN
or face image is stored anywhere, only counts.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openjpki.card import JpkiClient
from openjpki.card.client import Transport
from openjpki.rules import (
    RESERVATION_WINDOW, FaceMatch, Refused, after_face_match, kiosk_identity_decision,
    kiosk_reset_card_decision, pin_for_kiosk_reset,
)
from openjpki.rules.kinds import PinKind
from openjpki.services.audit import record
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.queries import current_certificates
from openjpki.services.kiosk_card import (
    InputError, card_of_certificate, forget_pins, insert_ignore, peek_serial,
    proving_certificate_status,
    read_other_for_reset,
)
from openjpki.store.citizen_models import FaceMatchState, KioskReservation
from openjpki.store.counter_models import Application, Card


class FaceMatcher(Protocol):
    """Compares the photo read from the chip with the face the phone's camera sees."""

    def matches(self, card_photo: str, live_face: str | None) -> bool: ...


def card_photo_token(card_number: str) -> str:
    """The simulated photo of a card (the 券面事項確認AP's photo, which the virtual card does
    not implement): a token derived from the card number. A live face "is" the holder when it
    shows this token."""
    return "face-" + hashlib.sha256(f"openjpki-photo:{card_number}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class SimulatedFaceMatcher:
    """The default matcher: a match iff the live-face token equals the card's photo token."""

    def matches(self, card_photo: str, live_face: str | None) -> bool:
        return live_face is not None and hmac.compare_digest(card_photo.encode(),
                                                             live_face.encode())


DEFAULT_MATCHER: FaceMatcher = SimulatedFaceMatcher()


@dataclass(frozen=True)
class ResetPrepared:
    """The app step succeeded: the kiosk step may follow until ``expires_at``."""

    reservation_id: int
    resident_id: int
    card_id: int
    card_number: str
    target: str
    prepared_at: datetime
    expires_at: datetime
    rule: str
    message_ja: str
    message_en: str

    outcome: ClassVar[str] = "reset_prepared"
    allowed: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "allowed": True, "rule": self.rule,
                "reservation_id": self.reservation_id, "resident_id": self.resident_id,
                "card_id": self.card_id, "card_number": self.card_number,
                "target": self.target, "prepared_at": self.prepared_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "message_ja": self.message_ja, "message_en": self.message_en}


# --- the face-match state (R6.2, R6.5) -------------------------------------------------------

def load_face_match(s: Session, card: Card, now: datetime) -> FaceMatch:
    """The app's face-match state for ``card``, locked for update. A PIN reset done at the
    counter after the lock clears it (R6.5)."""
    insert_ignore(s, FaceMatchState.__table__,
                  {"card_id": card.id, "failures": 0, "app_locked": False, "locked_at": None,
                   "updated_at": now}, ["card_id"])
    row = s.execute(select(FaceMatchState).where(FaceMatchState.card_id == card.id)
                    .with_for_update().execution_options(populate_existing=True)).scalar_one()
    if row.app_locked and _counter_reset_since(s, card.id, row.locked_at):
        row.failures, row.app_locked, row.locked_at, row.updated_at = 0, False, None, now
        s.flush()
    return FaceMatch(failures=row.failures, app_locked=row.app_locked)


def save_face_match(s: Session, card: Card, state: FaceMatch, now: datetime) -> None:
    values: dict[str, Any] = {"failures": state.failures, "app_locked": state.app_locked,
                              "updated_at": now}
    if state.app_locked:
        values["locked_at"] = now
    elif state.failures == 0:
        values["locked_at"] = None
    s.execute(update(FaceMatchState).where(FaceMatchState.card_id == card.id).values(**values))


def clear_face_match(s: Session, card: Card, now: datetime) -> None:
    """R6.5: a reset clears the app lock and the failure count."""
    s.execute(update(FaceMatchState).where(FaceMatchState.card_id == card.id)
              .values(failures=0, app_locked=False, locked_at=None, updated_at=now))


def _counter_reset_since(s: Session, card_id: int, locked_at: datetime | None) -> bool:
    stmt = select(Application.id).where(
        Application.card_id == card_id, Application.procedure == "pin_reset",
        Application.state == "completed")
    if locked_at is not None:
        stmt = stmt.where(Application.completed_at >= locked_at)
    return s.execute(stmt.limit(1)).first() is not None


# --- the use case -----------------------------------------------------------------------------

def prepare_pin_reset(ctx: CounterContext, transport: Transport, target: "PinKind | str",
                      other_pin: str | None, *, now: datetime, live_face: str | None = None,
                      matcher: FaceMatcher | None = None) -> ResetPrepared | Refused:
    """The app step of a kiosk PIN reset of ``target`` (R6.1–R6.3; see the module text).

    The card is first recognised by its AUTH certificate (readable without a PIN), so an app
    already locked for it refuses before any PIN is tried (R6.2). The database is not held
    while the card is talked to."""
    target = reset_target(target)
    other = pin_for_kiosk_reset(target)
    matcher = matcher or DEFAULT_MATCHER
    client = JpkiClient(transport)
    client.select_jpki()
    seen = peek_serial(client)
    if seen is not None:
        with ctx.store.transaction() as s:
            card = card_of_certificate(s, seen)
            locked = _app_locked(s, card)
            if locked is not None:
                _refused(s, ctx, card, target, locked, now, stage="app_locked")
                return locked
    read = read_other_for_reset(client, target, other_pin)
    forget_pins(client)
    rule = "R6.2" if target is PinKind.SIGN else "R6.3"
    with ctx.store.transaction() as s:
        if isinstance(read, Refused):
            card = card_of_certificate(s, seen) if seen is not None else None
            _refused(s, ctx, card, target, read, now, stage="pin")
            return read
        card = card_of_certificate(s, read.serial, for_update=True)
        if target.value not in current_certificates(s, card.id):
            raise InputError(f"the card holds no {target.value.upper()} certificate: there is "
                             "no PIN of it to reset")
        active = kiosk_reset_card_decision(card.state)  # R6.1
        if isinstance(active, Refused):
            _refused(s, ctx, card, target, active, now, stage="card")
            return active
        proved = kiosk_identity_decision(target, proving_certificate_status(s, read.serial))
        if isinstance(proved, Refused):  # R6.1: a revoked SIGN's PIN proves nothing
            _refused(s, ctx, card, target, proved, now, stage="identity")
            return proved
        state = load_face_match(s, card, now)
        if state.app_locked:  # locked meanwhile: refused, unchanged (R6.2)
            _, refusal = after_face_match(state, matched=False)
            _refused(s, ctx, card, target, refusal, now, stage="app_locked")
            return refusal  # type: ignore[return-value]
        if target is PinKind.SIGN:  # R6.2: the face match (R6.3 names none for AUTH)
            matched = matcher.matches(card_photo_token(card.card_number), live_face)
            state, decision = after_face_match(state, matched)
            save_face_match(s, card, state, now)
            if isinstance(decision, Refused):
                _refused(s, ctx, card, target, decision, now, stage="face_match",
                         failures=state.failures, app_locked=state.app_locked)
                return decision
        s.execute(update(KioskReservation).where(
            KioskReservation.card_id == card.id, KioskReservation.target == target.value,
            KioskReservation.state == "open").values(state="void", closed_at=now))
        reservation = KioskReservation(card_id=card.id, target=target.value, prepared_at=now,
                                       expires_at=now + RESERVATION_WINDOW, state="open")
        s.add(reservation)
        s.flush()
        record(s, "smartphone.reset_prepared", now, actor="smartphone-app",
               subject=f"resident:{card.resident_id}", card_id=card.id, target=target.value,
               proved_with=other.value, reservation_id=reservation.id,
               expires_at=reservation.expires_at, rule=rule)
        return ResetPrepared(
            reservation.id, card.resident_id, card.id, card.card_number, target.value, now,
            reservation.expires_at, rule,
            f"本人確認ができました。24時間以内にキオスク端末で{other.ja}を入力し、"
            f"新しい{target.ja}を設定してください。",
            f"Identity confirmed. Within 24 hours, at a kiosk, enter the {other.en} and set "
            f"the new {target.en}.")


def _app_locked(s: Session, card: Card) -> Refused | None:
    """R6.2: the refusal when the app is locked for ``card`` (read only; a counter reset
    since the lock counts as cleared, R6.5)."""
    row = s.get(FaceMatchState, card.id)
    if row is None or not row.app_locked or _counter_reset_since(s, card.id, row.locked_at):
        return None
    _, refusal = after_face_match(FaceMatch(row.failures, True), matched=False)
    return refusal  # type: ignore[return-value]


def reset_target(target: "PinKind | str") -> PinKind:
    try:
        t = PinKind.parse(target)
    except ValueError as e:
        raise InputError(str(e)) from None
    if t is PinKind.CARD:
        raise InputError("the resident-registry PIN is reset at the counter only (R1.6)")
    return t


def _refused(s: Session, ctx: CounterContext, card: Card | None, target: PinKind,
             refusal: Refused, now: datetime, *, stage: str, **extra: Any) -> None:
    record(s, "smartphone.reset_refused", now, actor="smartphone-app",
           subject=f"resident:{card.resident_id}" if card is not None else None,
           card_id=card.id if card is not None else None, target=target.value,
           rule=refusal.rule, stage=stage, **extra)

"""Carrying out an accepted application against the authorities and the card.

Every step that can refuse (PIN forms R1.3/R1.6, the resident-registry PIN R1.6) runs before
the card is touched. Then, per certificate: a key pair made on the card, the certificate
issued by the authority service in this transaction, written to the card with its CA
certificate, the PIN set; the one it replaces revoked as superseded (R3.7). Revocation and
hold go through the authority service too (R4.3, reasons from the rules).
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import serialization
from sqlalchemy import update
from sqlalchemy.orm import Session

from openjpki.rules import (
    Refused, after_pin_reset, certificate_expiry, card_expiry, retry_limit, validate_pin,
)
from openjpki.rules import PinCounter
from openjpki.rules.documents import Procedure
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.rules.revocation import (
    CardEnd, HolderRequest, revocation_for_replacement, revocations_for_card_end,
    revocations_for_holder_request,
)
from openjpki.services.audit import record
from openjpki.services.counter.accept import Intake, holder_request
from openjpki.services.counter.cardops import (
    CardWork, change_pin_on_card, create_virtual_card, new_card_number, open_card,
)
from openjpki.services.counter.context import CounterContext
from openjpki.card.pins import PinId
from openjpki.services.counter.cardfacts import write_particulars
from openjpki.services.counter.cardpin import check_card_pin
from openjpki.services.counter.facts import sign_facts
from openjpki.services.counter.fees import take_fee
from openjpki.services.counter.queries import cards_of, current_certificates
from openjpki.services.counter.requests import CounterRequest, PinEntry
from openjpki.services.counter.results import Completed, EndedCertificate, IssuedCertificate
from openjpki.store.counter_models import Card, CardCertificate


def execute_in(s: Session, ctx: CounterContext, intake: Intake, req: CounterRequest,
               pins: PinEntry, now: datetime) -> Completed | Refused:
    proc = req.procedure
    if proc.issues:
        result = _issue(s, ctx, intake, req, pins, now)
    elif proc is Procedure.PIN_CHANGE:
        result = _pin_change(s, ctx, intake, pins, now)
    elif proc is Procedure.PIN_RESET:
        result = _pin_reset(s, ctx, intake, pins, now)
    else:
        result = _end(s, ctx, intake, req, now)
    app = intake.application
    app.updated_at = now
    if intake.visit is not None:
        intake.visit.outcome = result.outcome
        intake.visit.rule = result.rule
    if isinstance(result, Refused):
        app.state, app.refusal_rule = "refused", result.rule
        record(s, f"counter.{proc.value}.refused", now, actor=ctx.actor,
               subject=f"resident:{intake.resident.id}", application_id=app.id,
               rule=result.rule, stage="execute")
        return result
    app.state, app.completed_at = "completed", now
    app.card_id = result.card_id
    result = take_fee(s, ctx, intake, req, result, now)  # R3.6
    record(s, f"counter.{proc.value}.completed", now, actor=ctx.actor,
           subject=f"resident:{intake.resident.id}", application_id=app.id,
           card_id=result.card_id, issued=[c.to_dict() for c in result.issued],
           ended=[c.to_dict() for c in result.ended], pins_set=list(result.pins_set),
           rule=result.rule)
    return result


# --- issuance, renewal, re-issue ----------------------------------------------------------

def _pin_forms(pins: PinEntry, kinds, *, card_pin: bool) -> Refused | None:
    """R1.3, R1.6: every PIN to be set has the right form (checked before any work)."""
    if card_pin:
        d = validate_pin(PinKind.CARD, pins.card or "")
        if isinstance(d, Refused):
            return d
    for k in kinds:
        d = validate_pin(PinKind.parse(k), pins.new(k) or "")
        if isinstance(d, Refused):
            return d
    return None


def _issue(s: Session, ctx: CounterContext, intake: Intake, req: CounterRequest,
           pins: PinEntry, now: datetime) -> Completed | Refused:
    r, kinds, today = intake.resident, intake.kinds, ctx.today(now)
    refused = _pin_forms(pins, kinds, card_pin=True)
    if refused:
        return refused
    new_card = intake.card is None
    got = _the_card(s, ctx, intake, req, pins, now)
    if isinstance(got, Refused):
        return got
    card, ended_by_new_card = got
    current = current_certificates(s, card.id)
    issued: list[IssuedCertificate] = []
    ended: list[EndedCertificate] = list(ended_by_new_card)
    previous: dict[str, str] = {}  # kind → the replaced certificate's last day
    # AUTH first: a SIGN issued with it is capped by its expiry (R2.2).
    order = sorted(kinds, key=lambda k: k is CertKind.SIGN)
    with open_card(ctx, card) as work:
        if new_card:  # the particulars, and the 4-digit PINs of the other applications
            # (R1.6): the 券面事項入力補助用暗証番号 starts as the resident-registry PIN
            write_particulars(ctx, work, r, card, {PinId.CARD: pins.card or "",
                                                   PinId.INPUT: pins.card or ""})
        for kind in order:
            auth_expiry = _auth_expiry(issued, current, today)
            exp = certificate_expiry(
                kind, r.birth_date, today, card.expires_on,
                auth_expiry=auth_expiry if kind is CertKind.SIGN else None,
                stay_until=r.stay_until if r.foreign_resident else None)
            public_key = work.generate_key(kind)
            is_sign = kind is CertKind.SIGN
            cert = ctx.authority.issue(
                kind.value, public_key, last_valid_day=exp.expires_on, now=now,
                prefecture=r.prefecture if is_sign else None,
                municipality=r.municipality if is_sign else None,
                facts=sign_facts(r) if is_sign else None, resident_id=str(r.id),
                supersede=False, session=s)
            work.install(kind, cert.der, _der(ctx.authority.root(kind.value)))
            work.set_pin(kind, pins.new(kind))  # type: ignore[arg-type]
            old = current.get(kind.value)
            if old is not None:
                previous[kind.value] = old.not_after.isoformat()
                ended.extend(_supersede(s, ctx, old, now))
            s.execute(update(CardCertificate).where(
                CardCertificate.card_id == card.id, CardCertificate.kind == kind.value,
                CardCertificate.current.is_(True)).values(current=False))
            s.add(CardCertificate(card_id=card.id, kind=kind.value, serial=cert.serial,
                                  not_after=exp.expires_on, expiry_rule=exp.rule,
                                  current=True, written_at=now,
                                  application_id=intake.application.id))
            issued.append(IssuedCertificate(kind.value, cert.serial, exp.expires_on, exp.rule))
            if kind is CertKind.SIGN:
                card.sign_declined = False
            else:
                card.auth_declined = False
        s.flush()
    proc = req.procedure
    return Completed(
        intake.application.id, proc.value, r.id, card.id, card.card_number,
        rule=intake.decision.rule,
        message_ja=f"{proc.ja}の手続きが完了しました。",
        message_en=f"The {proc.en} is complete.",
        issued=tuple(issued), ended=tuple(ended),
        pins_set=tuple(k.value for k in order) + (("card",) if req.new_card else ()),
        details={"virtual_card_id": card.virtual_card_id,
                 "card_expires_on": card.expires_on.isoformat(),
                 "previous_not_after": previous})


def _the_card(s: Session, ctx: CounterContext, intake: Intake, req: CounterRequest,
              pins: PinEntry, now: datetime) -> tuple[Card, list[EndedCertificate]] | Refused:
    """The card to issue on: a new one (the old ones voided, R5.10), or the holder's, once
    the card itself has checked the resident-registry PIN (R1.6)."""
    if intake.card is None:
        ended = _void_old_cards(s, ctx, intake.resident.id, now)
        return _new_card(s, ctx, intake, req, pins, now), ended
    d = check_card_pin(ctx, intake.card, pins.card)
    if isinstance(d, Refused):
        return d
    return intake.card, []


def _auth_expiry(issued, current, today):
    for c in issued:
        if c.kind == "auth":
            return c.not_after
    a = current.get("auth")
    return a.not_after if a is not None and a.live_on(today) else None


def _supersede(s: Session, ctx: CounterContext, old, now: datetime) -> list[EndedCertificate]:
    """R3.7: the replaced certificate is revoked as superseded (if it is still good or on
    hold; an R4.1 revocation keeps its reason)."""
    if old.status == "revoked":
        return []
    end = revocation_for_replacement(old.kind)
    rec = ctx.authority.revoke(old.serial, end.reason.value, at=now, session=s)
    return [EndedCertificate(old.kind, old.serial, rec.status, rec.reason or "", end.rule)]


def _new_card(s: Session, ctx: CounterContext, intake: Intake, req: CounterRequest,
              pins: PinEntry, now: datetime) -> Card:
    """R5.10: a new card in the card store, its issuing secret sealed (its card PIN is set
    on the card itself, R1.6)."""
    r, today = intake.resident, ctx.today(now)
    number = new_card_number()
    vid, sealed = create_virtual_card(ctx, number)
    declined = set(req.declined)
    expires_on = card_expiry(r.birth_date, today)
    if r.foreign_resident and r.stay_until is not None:  # R2.3: the card ends with the stay
        expires_on = min(expires_on, r.stay_until)
    card = Card(card_number=number, resident_id=r.id, issued_on=today,
                expires_on=expires_on, state="active",
                face_up_to_date=True, sign_declined=CertKind.SIGN in declined,
                auth_declined=CertKind.AUTH in declined, virtual_card_id=vid,
                issuing_secret_enc=sealed, card_pin_failures=0, card_pin_locked=False,
                created_at=now)
    s.add(card)
    s.flush()
    intake.application.card_id = card.id
    intake.card = card
    return card


def _void_old_cards(s: Session, ctx: CounterContext, resident_id: int,
                    now: datetime) -> list[EndedCertificate]:
    """A new card replaces the holder's active one, which is voided (廃止); its certificates
    end with it (R4.4, reasons from the rules)."""
    ended: list[EndedCertificate] = []
    for old in cards_of(s, resident_id):
        if old.state != "active":
            continue
        current = current_certificates(s, old.id)
        for end in revocations_for_card_end(CardEnd.VOIDED):
            c = current.get(end.kind.value)
            if c is None or c.status == "revoked" or end.reason is None:
                continue
            rec = ctx.authority.revoke(c.serial, end.reason.value, at=now, session=s)
            ended.append(EndedCertificate(end.kind.value, c.serial, rec.status,
                                          rec.reason or "", end.rule))
        old.state, old.state_changed_at = CardEnd.VOIDED.value, now
    return ended


def _der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --- PINs -----------------------------------------------------------------------------------

def _pin_change(s: Session, ctx: CounterContext, intake: Intake, pins: PinEntry,
                now: datetime) -> Completed | Refused:
    """R1.7: a change needs the current PIN; the new one must have the right form (R1.3),
    checked first so a malformed new PIN costs no try."""
    card = intake.card
    assert card is not None
    for k in intake.kinds:
        d = validate_pin(PinKind.parse(k), pins.new(k) or "")
        if isinstance(d, Refused):
            return d
    changed = []
    with open_card(ctx, card) as work:
        for k in intake.kinds:
            refused = change_pin_on_card(work, k, pins.current(k) or "", pins.new(k) or "")
            if refused is not None:
                return refused
            changed.append(k.value)
    return _pins_done(intake, card, "R1.7", tuple(changed))


def _pin_reset(s: Session, ctx: CounterContext, intake: Intake, pins: PinEntry,
               now: datetime) -> Completed | Refused:
    """R1.6: a reset at the counter needs the resident-registry PIN; it sets the new PIN and
    clears the lock and the failure count (R1.7, R6.5)."""
    card = intake.card
    assert card is not None
    refused = _pin_forms(pins, intake.kinds, card_pin=True)
    if refused:
        return refused
    d = check_card_pin(ctx, card, pins.card)
    if isinstance(d, Refused):
        return d
    rule = "R6.5"
    with open_card(ctx, card) as work:
        for k in intake.kinds:
            pk = PinKind.parse(k)
            tried = after_pin_reset(PinCounter(pk, retry_limit(pk), locked=True),
                                    pins.new(k) or "")
            if isinstance(tried.decision, Refused):
                return tried.decision
            rule = tried.decision.rule
            work.set_pin(k, pins.new(k))  # type: ignore[arg-type]
    return _pins_done(intake, card, rule, tuple(k.value for k in intake.kinds))


def _pins_done(intake: Intake, card: Card, rule: str, kinds: tuple[str, ...]) -> Completed:
    proc = intake.application.procedure
    p = Procedure(proc)
    return Completed(intake.application.id, proc, intake.resident.id, card.id,
                     card.card_number, rule=rule, message_ja=f"{p.ja}が完了しました。",
                     message_en=f"The {p.en} is complete.", pins_set=kinds)


# --- revocation and hold ------------------------------------------------------------------

def _end(s: Session, ctx: CounterContext, intake: Intake, req: CounterRequest,
         now: datetime) -> Completed:
    """R4.3: the holder's request; a lost card also ends as a card (R4.4)."""
    request = holder_request(req)
    card = intake.card
    assert card is not None
    current = current_certificates(s, card.id)
    ended = []
    for end in revocations_for_holder_request(request, intake.kinds):
        c = current[end.kind.value]
        if request is HolderRequest.HOLD:
            rec = ctx.authority.hold(c.serial, at=now, session=s)
        else:
            rec = ctx.authority.revoke(c.serial, end.reason.value, at=now, session=s)
        ended.append(EndedCertificate(end.kind.value, c.serial, rec.status, rec.reason or "",
                                      end.rule))
    if request is HolderRequest.LOST_CARD:
        card.state, card.state_changed_at = "lost", now
    s.flush()
    p = req.procedure
    return Completed(intake.application.id, p.value, intake.resident.id, card.id,
                     card.card_number, rule="R4.3", message_ja=f"{p.ja}の手続きが完了しました。",
                     message_en=f"The {p.en} is complete.", ended=tuple(ended),
                     details={"request": request.value, "card_state": card.state})

"""State on demand, for one card or certificate, bypassing the counter (sandbox only).

Each action is what a relying party needs to meet in testing and would otherwise wait for or
stage at a counter: PIN tries left or a blocked PIN (the card's own state, set through the
card's issuing interface), a revocation or hold with any reason and any date (backdated:
"a SIGN revoked by a move yesterday"), a card that ended (R4.4), a change of a resident's
facts (a register event, so R4.1 applies exactly as at the counter).

Every action is recorded in the audit log with actor ``sandbox`` (action ``sandbox.…``; the
register events keep their own ``register.…`` actions, with actor ``sandbox``), in the same
transaction as the change where there is one. Time is an argument: ``now`` is the sandbox's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import or_, select

from openjpki.card.pins import PIN_TRIES, PinId
from openjpki.rules import CardEnd, revocations_for_card_end
from openjpki.rules.revocation import Reason
from openjpki.services.audit import record
from openjpki.services.counter.cardops import open_card
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.queries import card_dict, current_certificates
from openjpki.services.counter.residents import InputError, NotFound
from openjpki.services.demo_postal import synthetic_postal_code

ACTOR = "sandbox"


def _ctx(ctx: CounterContext) -> CounterContext:
    return ctx.with_actor(ACTOR)


def find_card(s, ref: str, *, for_update: bool = False):
    """A card by its virtual card id (``mnc-…``, what ``card insert`` takes), its card
    number, or ``#ID`` (the database id). NotFound otherwise."""
    from openjpki.store.counter_models import Card

    ref = (ref or "").strip()
    if ref.startswith("#") and ref[1:].isdigit():
        cond = Card.id == int(ref[1:])
    else:
        cond = or_(Card.virtual_card_id == ref, Card.card_number == ref)
    stmt = select(Card).where(cond)
    if for_update:
        stmt = stmt.with_for_update()
    card = s.execute(stmt).scalar_one_or_none()
    if card is None:
        raise NotFound(f"no card {ref!r} (give the virtual card id, e.g. mnc-…, or the "
                       "card number)")
    return card


# --- PINs ---------------------------------------------------------------------------------

def set_pin_tries(ctx: CounterContext, card_ref: str, kind: str, tries: int, *,
                  now: datetime) -> dict:
    """Set the tries left of any PIN of a card — auth, sign, card (住民基本台帳用), input
    (券面事項入力補助用), input_a/input_b/face_a/face_b (照合番号A/B) — (0 blocks it: R1.4;
    the full count unblocks it without changing the PIN). The card must not be in a
    reader."""
    key = PinId.of(kind)
    limit = PIN_TRIES[key]
    if not isinstance(tries, int) or not 0 <= tries <= limit:
        raise InputError(f"tries left of the {key.value} PIN must be 0 to {limit} (R1.4)")
    with ctx.store.transaction() as s:
        card = find_card(s, card_ref, for_update=True)
        before = ctx.cards.status(card.virtual_card_id)["pins"][key.value]
        if not before["set"]:
            raise InputError(f"card {card.virtual_card_id} has no {key.value} PIN "
                             "(never set on this card)")
        with open_card(ctx, card) as work:
            work.terminal.set_tries(key.value, tries)
        record(s, "sandbox.card.pin_tries", now, actor=ACTOR, subject=f"card:{card.id}",
               kind=key.value, tries_left=tries, before=before["tries_left"],
               resident=card.resident_id)
        vid = card.virtual_card_id
    status = ctx.cards.status(vid)
    return {"card_id": vid, "kind": key.value, **status["pins"][key.value],
            "locked": status["pins"][key.value]["tries_left"] == 0}


# --- certificates -------------------------------------------------------------------------

def change_certificate(ctx: CounterContext, serial: str, reason: str, *, at: datetime,
                       now: datetime) -> dict:
    """Revoke ``serial`` with ANY RFC 5280 reason (``certificateHold`` holds it) at ANY
    moment ``at`` (the published revocationDate; may be in the past). R4.3 still holds: a
    revocation is final and a hold only becomes a revocation (TransitionRefused)."""
    parsed = Reason.parse(reason)
    if at.tzinfo is None:
        raise ValueError("the revocation date must be timezone-aware")
    with ctx.store.transaction() as s:
        rec = ctx.authority.revoke(serial, parsed, at=at, session=s)
        record(s, "sandbox.certificate." + ("hold" if rec.status == "hold" else "revoke"),
               now, actor=ACTOR, subject=f"certificate:{rec.serial}", reason=parsed.value,
               revoked_at=rec.revoked_at, kind=rec.kind, resident=rec.resident_id)
    ctx.notify_status_change()
    out = rec.to_dict()
    out["revoked_at"] = rec.revoked_at.isoformat() if rec.revoked_at else None
    return out


# --- cards --------------------------------------------------------------------------------

def end_card(ctx: CounterContext, card_ref: str, how: str, *, at: datetime,
             now: datetime) -> dict:
    """R4.4: the card ends (``returned``, ``voided``, ``lost``, ``expired``) and both
    certificates with it: revoked cessationOfOperation (returned, voided) or keyCompromise
    (lost) at ``at``; an expired card revokes nothing (its certificates expired with it,
    R2.1), so it can only be ended so once the sandbox date is past its expiry."""
    try:
        end = CardEnd(how)
    except ValueError:
        raise InputError(f"a card ends as returned, voided, lost or expired (not {how!r})"
                         ) from None
    today = ctx.today(now)
    with ctx.store.transaction() as s:
        card = find_card(s, card_ref, for_update=True)
        if card.state != "active":
            raise InputError(f"card {card.virtual_card_id} has already ended ({card.state})")
        if end is CardEnd.EXPIRED and today <= card.expires_on:
            raise InputError(f"card {card.virtual_card_id} expires on {card.expires_on}: "
                             "move the sandbox clock past it (sandbox time set) instead")
        current = current_certificates(s, card.id)
        ended = []
        for e in revocations_for_card_end(end):
            c = current.get(e.kind.value)
            if c is None or e.reason is None or c.status == "revoked":
                continue
            rec = ctx.authority.revoke(c.serial, e.reason.value, at=at, session=s)
            ended.append({"kind": rec.kind, "serial": rec.serial, "status": rec.status,
                          "reason": rec.reason, "rule": e.rule})
        card.state, card.state_changed_at = end.value, at
        s.flush()
        record(s, "sandbox.card.end", now, actor=ACTOR, subject=f"card:{card.id}",
               end=end.value, ended_at=at, ended=ended, resident=card.resident_id)
        out = card_dict(s, card)
    if ended:
        ctx.notify_status_change()
    return {"card": out, "ended": ended, "rule": "R4.4"}


# --- the register -------------------------------------------------------------------------

def change_facts(ctx: CounterContext, resident_id: int, *, now: datetime,
                 address: Optional[str] = None, name: Optional[str] = None,
                 birth_date: Optional[date] = None, sex: Optional[str] = None) -> dict:
    """Change a resident's facts as register events (services.register): R4.1 revokes the
    SIGN certificate (affiliationChanged) at ``now``, R4.2 keeps AUTH. Several facts give
    several events, in the order address, name, date of birth, sex."""
    from openjpki.services import register

    if address is None and name is None and birth_date is None and sex is None:
        raise InputError("give at least one fact to change: address, name, birth date, sex")
    c = _ctx(ctx)
    events = []
    if address is not None:
        m = c.municipality
        events.append(register.move(c, resident_id, address, now, postal_code=(
            synthetic_postal_code(m.prefecture, m.name, address))))
    if name is not None:
        events.append(register.change_name(c, resident_id, now, name=name))
    if birth_date is not None:
        events.append(register.correct_birth_date(c, resident_id, birth_date, now))
    if sex is not None:
        events.append(register.correct_sex(c, resident_id, sex, now))
    last = events[-1].to_dict()
    return {"resident": last["resident"], "events": [e.to_dict() for e in events],
            "ended": [x for e in events for x in e.to_dict()["ended"]], "rule": "R4.1"}


def card_view(ctx: CounterContext, card_ref: str) -> dict:
    """A card as the API shows it, with its PINs' tries left (read without holding it) and,
    this being a sandbox, what is printed on the card's face: the security code and 照合番号B
    (birth date YYMMDD, expiry year, security code) that the holder reads off it."""
    from openjpki.services.counter.cardfacts import sealed_security_code
    from openjpki.store.residents import get_resident

    with ctx.store.sessions() as s:
        card = find_card(s, card_ref)
        out = card_dict(s, card)
        code = sealed_security_code(ctx, card)
        r = get_resident(s, card.resident_id)
        if code is not None and r is not None:
            out["security_code"] = code
            out["pin_b"] = f"{r.birth_date:%y%m%d}{card.expires_on.year:04d}{code}"
            out["individual_number"] = r.individual_number
    out["pins"] = ctx.cards.status(out["virtual_card_id"])["pins"]
    return out


__all__ = ["ACTOR", "card_view", "change_certificate", "change_facts", "end_card",
           "find_card", "set_pin_tries"]

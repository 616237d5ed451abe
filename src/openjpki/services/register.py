"""Resident-register events (住民基本台帳の異動) and what they do to the certificates.

A change of any of the basic four facts — address (転入, 転居), name (marriage etc., 旧氏,
通称), date of birth, sex — revokes the holder's SIGN certificate in the SAME transaction as
the change, with reason affiliationChanged (R4.1); AUTH carries no facts and stays good
(R4.2). The card face is then out of date until the change of particulars (記載事項変更,
:func:`change_card_particulars`) is done (R5.2), and the answer offers a new SIGN in the same
visit (R4.5) — which, issued after the change, carries the new facts.

Which certificates end, and why, is decided by ``rules.revocations_for_fact_change``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from openjpki.rules import register_text_problem
from openjpki.rules.revocation import FactChange, revocations_for_fact_change
from openjpki.services.audit import record
from openjpki.services.counter.cardfacts import write_particulars
from openjpki.services.counter.cardops import open_card
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.queries import cards_of, current_certificates
from openjpki.services.counter.residents import (
    InputError, parse_postal_code, parse_sex, require_resident, resident_dict,
)
from openjpki.services.counter.results import EndedCertificate, Offer
from openjpki.store import Certificate
from openjpki.store.residents import Resident


@dataclass(frozen=True)
class RegisterResult:
    """The register after the event, the certificates it ended, and what the clerk offers."""

    event: str
    resident: dict
    changed: dict
    ended: tuple[EndedCertificate, ...] = ()
    card_faces_out_of_date: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()
    rule: str = "R4.1"
    message_ja: str = ""
    message_en: str = ""
    details: dict = field(default_factory=dict)

    outcome = "registered"

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "event": self.event, "resident": self.resident,
                "changed": self.changed, "ended": [e.to_dict() for e in self.ended],
                "card_faces_out_of_date": list(self.card_faces_out_of_date),
                "offers": [o.to_dict() for o in self.offers], "rule": self.rule,
                "message_ja": self.message_ja, "message_en": self.message_en,
                **self.details}


def _text(what: str, value: str | None, bound: int = 200) -> str:
    """A register text (R1.2, :func:`openjpki.rules.register_text_problem`)."""
    if not isinstance(value, str) or not value.strip() or len(value) > bound:
        raise InputError(f"{what} must be a non-empty text of at most {bound} characters")
    problem = register_text_problem(what, value)
    if problem is not None:
        raise InputError(problem)
    return value


def _event(ctx: CounterContext, resident_id: int, change: FactChange, now: datetime,
           apply: Callable[[Resident], dict]) -> RegisterResult:
    """Apply a change of facts and its consequences in one transaction."""
    with ctx.store.transaction() as s:
        r = require_resident(s, resident_id, for_update=True)
        changed = apply(r)
        if not changed:
            raise InputError("nothing changes: the register already says so")
        r.updated_at = now
        result = _consequences(s, ctx, r, change, changed, now)
    if result.ended:
        ctx.notify_status_change()
    return result


def _consequences(s: Session, ctx: CounterContext, r: Resident, change: FactChange,
                  changed: dict, now: datetime) -> RegisterResult:
    ended: list[EndedCertificate] = []
    offers: list[Offer] = []
    message_ja = message_en = ""
    for end in revocations_for_fact_change(change):  # R4.1 (SIGN), R4.2 (AUTH untouched)
        live = s.execute(select(Certificate.serial).where(
            Certificate.resident_id == str(r.id), Certificate.kind == end.kind.value,
            Certificate.status.in_(("good", "hold")))).scalars().all()
        for serial in live:
            rec = ctx.authority.revoke(serial, end.reason.value, at=now, session=s)
            ended.append(EndedCertificate(end.kind.value, serial, rec.status,
                                          rec.reason or "", end.rule))
        # What happened (the rule's own sentence says what a change does, in the future).
        if live:
            message_ja = (f"{change.ja}を登録しました。{end.kind.ja}は失効しました"
                          "（利用者証明用電子証明書は引き続き有効です）。")
            message_en = (f"The {change.en} is registered; the {end.kind.en} has been "
                          "revoked (the user authentication certificate stays valid).")
        else:
            message_ja = f"{change.ja}を登録しました。失効した電子証明書はありません。"
            message_en = f"The {change.en} is registered; no certificate was revoked."
        if live and end.reissue_same_visit:
            offers.append(replace(SIGN_AGAIN, kinds=(end.kind.value,),
                                  first=("change_of_particulars",)))
    faces = []
    for card in cards_of(s, r.id):
        if card.state == "active":
            card.face_up_to_date = False  # R5.2: until 記載事項変更
            faces.append(card.card_number)
    s.flush()
    record(s, f"register.{change.value}", now, actor=ctx.actor, subject=f"resident:{r.id}",
           changed=sorted(changed), ended=[e.to_dict() for e in ended],
           cards_out_of_date=faces)
    return RegisterResult(change.value, resident_dict(r), changed, tuple(ended), tuple(faces),
                          tuple(offers), "R4.1", message_ja, message_en)


def _set(r: Resident, **values: Any) -> dict:
    changed = {}
    for k, v in values.items():
        if v is not None and getattr(r, k) != v:
            changed[k] = {"from": _plain(getattr(r, k)), "to": _plain(v)}
            setattr(r, k, v)
    return changed


def _postal(value: str | None) -> str | None:
    return parse_postal_code(value) if value else None


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def move_in(ctx: CounterContext, resident_id: int, new_address: str, now: datetime, *,
            household_id: str | None = None, relationship: str | None = None,
            postal_code: str | None = None) -> RegisterResult:
    """転入: a person registered elsewhere moves into this municipality (R4.1)."""
    _text("address", new_address)
    m = ctx.municipality

    def apply(r: Resident) -> dict:
        changed = _set(r, address=new_address, municipality_code=m.code,
                       prefecture=m.prefecture, municipality=m.name,
                       household_id=household_id, relationship=relationship,
                       postal_code=_postal(postal_code))
        if not r.on_register:
            r.on_register = True
            changed["on_register"] = {"from": False, "to": True}
        if "address" in changed:
            r.address_changed_on = ctx.today(now)
        return changed
    return _event(ctx, resident_id, FactChange.MOVE_IN, now, apply)


def move(ctx: CounterContext, resident_id: int, new_address: str, now: datetime, *,
         household_id: str | None = None, relationship: str | None = None,
         postal_code: str | None = None) -> RegisterResult:
    """転居: a move within the municipality (R4.1)."""
    _text("address", new_address)

    def apply(r: Resident) -> dict:
        if not r.on_register:
            raise InputError(f"resident {r.id} is not on this register (a 転入 is needed)")
        changed = _set(r, address=new_address, household_id=household_id,
                       relationship=relationship, postal_code=_postal(postal_code))
        if "address" in changed:
            r.address_changed_on = ctx.today(now)
            if postal_code is None and r.postal_code is not None:
                # The old 郵便番号 belongs to the old address: letters would print it.
                changed["postal_code"] = {"from": r.postal_code, "to": None}
                r.postal_code = None
        return changed
    return _event(ctx, resident_id, FactChange.MOVE, now, apply)


def change_name(ctx: CounterContext, resident_id: int, now: datetime, *,
                name: str | None = None, former_surname: str | None = None,
                alias: str | None = None) -> RegisterResult:
    """Marriage or another change of name, or of the registered 旧氏 or 通称 (R4.1). An empty
    string removes a 旧氏 or 通称."""
    if name is not None:
        _text("name", name)
    change = (FactChange.NAME if name is not None else
              FactChange.OLD_SURNAME if former_surname is not None else
              FactChange.COMMON_NAME if alias is not None else None)
    if change is None:
        raise InputError("give a new name, 旧氏 (former surname) or 通称 (alias)")

    def apply(r: Resident) -> dict:
        changed = _set(r, name=name)
        for attr, value in (("former_surname", former_surname), ("alias", alias)):
            if value is not None:
                new = value or None
                if new is not None:
                    _text(attr, new, 200)
                if getattr(r, attr) != new:
                    changed[attr] = {"from": getattr(r, attr), "to": new}
                    setattr(r, attr, new)
        return changed
    return _event(ctx, resident_id, change, now, apply)


def correct_birth_date(ctx: CounterContext, resident_id: int, birth_date: date,
                       now: datetime) -> RegisterResult:
    """Correction of the date of birth (R4.1)."""
    if not isinstance(birth_date, date) or birth_date > ctx.today(now):
        raise InputError("the date of birth must be a date not in the future")
    return _event(ctx, resident_id, FactChange.BIRTH_DATE, now,
                  lambda r: _set(r, birth_date=birth_date))


def correct_sex(ctx: CounterContext, resident_id: int, sex: int | str,
                now: datetime) -> RegisterResult:
    """Correction of sex (R4.1)."""
    code = parse_sex(sex)
    return _event(ctx, resident_id, FactChange.SEX, now, lambda r: _set(r, sex=code))


def change_card_particulars(ctx: CounterContext, resident_id: int, now: datetime
                            ) -> dict:
    """記載事項変更: the card face is rewritten to match the register (R5.2): the card's
    券面事項入力補助AP and 券面事項確認AP files are written again from the register and
    signed again (照合番号A/B follow them); afterwards the procedures that need an
    up-to-date face (the R4.5 re-issue among them) can be done."""
    with ctx.store.transaction() as s:
        r = require_resident(s, resident_id, for_update=True)
        cards = [c for c in cards_of(s, r.id) if c.state == "active"]
        if not cards:
            raise InputError(f"resident {r.id} has no active card")
        updated = []
        for c in cards:
            with open_card(ctx, c) as work:
                write_particulars(ctx, work, r, c)
            if not c.face_up_to_date:
                c.face_up_to_date = True
                updated.append(c.card_number)
        record(s, "register.card_particulars", now, actor=ctx.actor,
               subject=f"resident:{r.id}", cards=updated)
        offers = [SIGN_AGAIN.to_dict()] if any(_sign_to_issue_again(s, c) for c in cards) else []
        return {"outcome": "registered", "event": "card_particulars", "resident_id": r.id,
                "cards_updated": updated, "rule": "R5.2",
                "message_ja": "カードの記載事項を変更しました。",
                "message_en": "The card face now matches the register.", "offers": offers}


SIGN_AGAIN = Offer("reissue_after_change", ("sign",), "R4.5",
                   "記載事項変更の届出とあわせて、署名用電子証明書を本日再発行できます。",
                   "The signature certificate can be issued again today, with the change.")


def _sign_to_issue_again(s: Session, card) -> bool:
    """The card's SIGN was revoked by a change of facts (R4.1) and not issued again: with the
    face now up to date the clerk can offer it in the same visit (R4.5)."""
    sign = current_certificates(s, card.id).get("sign")
    return (sign is not None and sign.status == "revoked"
            and sign.reason == "affiliationChanged")

"""Accepting an application: every check before any work, decided by the rules package.

Order: the inquiry reference a proxy brings back (R5.4); office hours (R5.8); the card and the
certificates the procedure concerns, and what those already on the card allow
(``rules.holdings``: renewal window and state R3.1–R3.3, new issuance R3.7, re-issue after a
change R4.5, revocation and hold R4.3); who applies and what they brought (R5.2–R5.7, R1.5/R5.6, via
``rules.procedure_decision``); for a voluntary proxy, the inquiry form (R5.4, R5.5). The
application, the visit and an audit entry are recorded whatever the answer, in the caller's
transaction; nothing is issued here (see :mod:`.execute`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openjpki.rules import Allowed, Refused, SecondVisit, validate_pin
from openjpki.rules.calendars import counter_open
from openjpki.rules.documents import (
    ApplicantType, InquiryForm, Procedure, inquiry_reference_decision,
    notice_reference_decision,
)
from openjpki.rules.eligibility import Application as RulesApplication
from openjpki.rules.eligibility import (
    certificates_on_new_card, pins_needed, procedure_decision,
)
from openjpki.rules.holdings import (
    HeldCertificate, holder_request_decision, new_issuance_decision, new_issuance_kinds,
    reissue_after_change_decision, renewal_on_card_decision,
)
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.rules.revocation import HolderRequest
from openjpki.services.audit import record
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.cardpin import check_card_pin
from openjpki.services.counter.facts import applicant_facts, holder_facts
from openjpki.services.counter.letters import (
    EXPIRY_NOTICE, find_letter, live_inquiry, mail_inquiry_form,
)
from openjpki.services.counter.queries import active_card, card_by_id, current_certificates
from openjpki.services.counter.requests import CounterRequest, PinEntry
from openjpki.services.counter.residents import InputError, require_resident
from openjpki.services.counter.results import Accepted, InquiryMailed
from openjpki.store.counter_models import Application, Card, Letter, Visit
from openjpki.store.residents import Resident

BOTH = (CertKind.SIGN, CertKind.AUTH)


@dataclass
class Intake:
    """What acceptance found, for the execution step of the same visit."""

    application: Application
    resident: Resident
    card: Card | None
    kinds: tuple[CertKind, ...]
    decision: Allowed
    visit: Visit | None = None
    """The visit that brought it (None when carried out later, R5.9)."""


def accept_in(s: Session, ctx: CounterContext, req: CounterRequest, now: datetime,
              pins: PinEntry | None = None) -> Intake | Refused | InquiryMailed:
    """Check ``req`` and record it. ``pins`` are needed only when a voluntary proxy brings
    the inquiry form back (the PINs written on it are checked, R5.4)."""
    if now.tzinfo is None:
        raise InputError("the moment of a procedure must be timezone-aware")
    r = require_resident(s, req.resident_id, for_update=True)
    today = ctx.today(now)
    proc: Procedure = req.procedure  # type: ignore[assignment]
    office = req.office or ctx.default_office
    letter: Letter | None = None
    app: Application | None = None

    inquiry = req.applicant.inquiry
    notice: Letter | None = None
    if inquiry is not None and inquiry.from_expiry_notice:  # R5.5 a: the notice was sent
        notice, known = _expiry_notice(s, r, inquiry.reference)
        if isinstance(known, Refused):
            return _record_refusal(s, ctx, r, req, None, now, office, known)
    elif inquiry is not None and inquiry.reference:
        letter = live_inquiry(s, inquiry.reference, for_update=True)
        known = inquiry_reference_decision(letter is not None,
                                           letter is not None and letter.resident_id == r.id)
        if isinstance(known, Refused):  # R5.4
            return _record_refusal(s, ctx, r, req, None, now, office, known)
        app = s.get(Application, letter.application_id)
        if app is None or app.procedure != proc.value:
            raise InputError(f"inquiry {letter.reference} is for another procedure "
                             f"({app.procedure if app else '?'})")

    # R5.8: the office must be open for certificate work.
    if ctx.calendar is not None:
        try:
            hours = counter_open(ctx.calendar.office(office), now)
        except ValueError as e:
            raise InputError(str(e)) from None
        if isinstance(hours, Refused):
            return _record_refusal(s, ctx, r, req, app, now, office, hours)

    card = _card_for(s, r, req)
    held = _held(s, card)
    kinds = _kinds_for(r, held, req, today)
    refused = _timing_and_state(held, req, kinds, today)
    if refused is not None:
        return _record_refusal(s, ctx, r, req, app, now, office, refused, card, kinds)

    def decide(form: InquiryForm | None):
        return procedure_decision(RulesApplication(
            procedure=proc, kinds=frozenset(kinds or (CertKind.AUTH,)), on=today,
            holder=holder_facts(r, card, new_card=req.new_card),
            applicant=applicant_facts(s, r, req.applicant, move_filed_on=r.address_changed_on,
                                      form=form),
            card_presented=req.applicant.card_presented or req.new_card,
            sign_exception=req.sign_exception))

    seen: dict = {}
    form = None
    if inquiry is not None:  # R5.4, R5.5 a: the form as brought, PINs not yet compared
        form = InquiryForm(complete=inquiry.complete, sealed=inquiry.sealed, pins_match=True,
                           from_expiry_notice=inquiry.from_expiry_notice)
    decision = decide(form)
    if form is not None and isinstance(decision, Allowed):
        # Everything else is in order: only now are the PINs written on the form compared
        # with the card (a try is used only when it can decide the visit).
        form = InquiryForm(complete=True, sealed=True,
                           pins_match=_form_pins_match(ctx, card, pins, kinds, proc),
                           from_expiry_notice=form.from_expiry_notice)
        decision = decide(form)
    if form is not None:
        # What the counter found on the form, kept with the visit (never the PINs).
        seen = {"form": {"reference": inquiry.reference, "complete": form.complete,
                         "sealed": form.sealed, "pins_match": form.pins_match,
                         "from_expiry_notice": form.from_expiry_notice}}

    if isinstance(decision, Refused):
        return _record_refusal(s, ctx, r, req, app, now, office, decision, card, kinds, seen)
    if isinstance(decision, SecondVisit):
        return _inquiry(s, ctx, r, req, app, letter, card, kinds, now, office, decision, seen)

    if notice is not None and not _claim(s, notice, now):  # R5.5 a: a notice serves once
        return _record_refusal(s, ctx, r, req, app, now, office,
                               notice_reference_decision(False), card, kinds, seen)
    if letter is not None and not _claim(s, letter, now):  # R5.4: so does an inquiry form
        return _record_refusal(s, ctx, r, req, app, now, office,
                               inquiry_reference_decision(False), card, kinds, seen)
    app = app or _new_application(s, r, card, req, kinds, now, office)
    app.state = "accepted"
    app.kinds = ",".join(k.value for k in kinds)
    app.details = {**(app.details or {}), "decision": decision.to_dict()}
    app.updated_at = now
    visit = _visit(s, app, req, now, office, "accepted", decision.rule, **seen)
    s.flush()
    record(s, f"counter.{proc.value}.accepted", now, actor=ctx.actor,
           subject=f"resident:{r.id}", application_id=app.id, card_id=app.card_id,
           kinds=[k.value for k in kinds], applicant=req.applicant.type, rule=decision.rule,
           office=office, inquiry=letter.reference if letter else None)
    return Intake(app, r, card, kinds, decision, visit)


def _expiry_notice(s: Session, r: Resident, reference: str | None):
    """(the notice letter, the decision): R5.5 a needs a notice sent to this holder, unused."""
    notice = find_letter(s, reference or "", for_update=True)
    if notice is not None and notice.kind != EXPIRY_NOTICE:
        notice = None
    return notice, notice_reference_decision(
        notice is not None and notice.state == "sent",
        notice is not None and notice.resident_id == r.id)


def _claim(s: Session, notice: Letter, now: datetime) -> bool:
    """Mark the letter (notice or inquiry form) used, if no other visit did first: one conditional UPDATE, which
    waits for a concurrent claim to commit (PostgreSQL's row lock, SQLite's write lock)."""
    done = s.execute(update(Letter).where(Letter.id == notice.id, Letter.state == "sent")
                     .values(state="answered", closed_at=now)
                     .execution_options(synchronize_session=False)).rowcount
    return done == 1


def _card_for(s: Session, r: Resident, req: CounterRequest) -> Card | None:
    if req.new_card:
        return None
    if req.card_id is not None:
        card = card_by_id(s, req.card_id, for_update=True)
        if card is None or card.resident_id != r.id:
            raise InputError(f"card {req.card_id} is not a card of resident {r.id}")
        return card
    return active_card(s, r.id, for_update=True)


def _held(s: Session, card: Card | None) -> list[HeldCertificate] | None:
    """The card's current certificates as the rules see them (None: no card)."""
    if card is None:
        return None
    return [HeldCertificate(CertKind.parse(kind), c.status, c.not_after, c.reason)
            for kind, c in current_certificates(s, card.id).items()]


def _kinds_for(r: Resident, held: list[HeldCertificate] | None, req: CounterRequest, today
               ) -> tuple[CertKind, ...]:
    """The certificates the procedure concerns (explicit, or the procedure's default)."""
    proc, asked = req.procedure, tuple(req.kinds)
    if req.new_card:
        if asked:
            return tuple(k for k in asked if k not in req.declined)
        # R5.10, R1.5: both, less the declined ones, less SIGN under 15 / adult ward.
        on_card = certificates_on_new_card(r.birth_date, today, req.declined, r.adult_ward)
        return tuple(k for k in BOTH if k in on_card)
    if asked:
        return asked
    if proc is Procedure.NEW_ISSUANCE:
        return new_issuance_kinds(held, today)  # R3.7: the kinds without a live certificate
    if proc is Procedure.REISSUE_AFTER_CHANGE:
        return (CertKind.SIGN,)
    if proc is Procedure.RENEWAL:
        on_card = {c.kind for c in held or ()}
        return tuple(k for k in BOTH if k in on_card) or BOTH
    return BOTH


def _timing_and_state(held: list[HeldCertificate] | None, req: CounterRequest,
                      kinds: tuple[CertKind, ...], today) -> Refused | None:
    """What the certificates already on the card allow, decided by ``rules.holdings``:
    renewal (R3.1–R3.3), new issuance (R3.7), re-issue after a change (R4.5), revocation and
    hold (R4.3)."""
    proc = req.procedure
    if proc in (Procedure.REVOCATION, Procedure.HOLD):
        if held is None:
            decision = holder_request_decision(None, proc, kinds)
        else:
            decision = holder_request_decision(held, proc, kinds, holder_request(req))
    elif held is None:
        return None  # no card: R5.2 (rules) refuses where the procedure needs one
    elif proc is Procedure.RENEWAL:
        decision = renewal_on_card_decision(held, today, kinds)
    elif proc is Procedure.NEW_ISSUANCE:
        decision = new_issuance_decision(held, today, req.kinds)
    elif proc is Procedure.REISSUE_AFTER_CHANGE:
        decision = reissue_after_change_decision(held)
    else:
        return None
    return decision if isinstance(decision, Refused) else None


def holder_request(req: CounterRequest) -> HolderRequest:
    if req.procedure is Procedure.HOLD:
        return HolderRequest.HOLD
    try:
        return HolderRequest(req.reason or "voluntary")
    except ValueError:
        names = ", ".join(h.value for h in HolderRequest if h is not HolderRequest.HOLD)
        raise InputError(f"unknown revocation reason {req.reason!r} ({names})") from None


def _form_pins_match(ctx: CounterContext, card: Card | None, pins: PinEntry | None, kinds: tuple[CertKind, ...],
                     proc: Procedure) -> bool:
    """R5.4: do the PINs written on the inquiry form match? The resident-registry PIN is
    compared with the card (a try, R1.6); the PINs to be set must have their form (R1.3).
    Which PINs the form carries is ``rules.pins_needed``."""
    pins = pins or PinEntry()
    needed = pins_needed(proc, kinds)
    match = True
    if PinKind.CARD in needed:
        if card is not None:
            match = check_card_pin(ctx, card, pins.card).allowed
        else:  # a new card: the card PIN is being chosen, only its form can be wrong
            match = pins.card is not None and validate_pin(PinKind.CARD, pins.card).allowed
    for k in kinds:
        if PinKind.parse(k) in needed:
            new = pins.new(k)
            match = match and new is not None and validate_pin(k.value, new).allowed
    return match


def _new_application(s: Session, r: Resident, card: Card | None, req: CounterRequest,
                     kinds, now: datetime, office: str) -> Application:
    app = Application(
        resident_id=r.id, card_id=card.id if card else None, procedure=req.procedure.value,
        applicant_type=req.applicant.type.value, kinds=",".join(k.value for k in kinds),
        state="accepted", office=office, created_at=now, updated_at=now,
        details=_details(req))
    s.add(app)
    s.flush()
    return app


def _details(req: CounterRequest) -> dict:
    a = req.applicant
    return {"new_card": req.new_card, "declined": [k.value for k in req.declined],
            "sign_exception": req.sign_exception, "reason": req.reason,
            "paid_card_reissue": req.paid_card_reissue,
            "ids": [str(d.kind) for d in a.ids],
            "authority_proofs": [p.value for p in a.authority_proofs],
            "representative_id": a.representative_id, "holder_present": a.holder_present,
            "letter_of_attorney": a.letter_of_attorney, "card_presented": a.card_presented}


def _visit(s: Session, app: Application, req: CounterRequest, now: datetime, office: str,
           outcome: str, rule: str | None, **details) -> Visit:
    number = s.execute(select(func.count()).select_from(Visit)
                       .where(Visit.application_id == app.id)).scalar_one() + 1
    v = Visit(application_id=app.id, number=number, at=now, office=office,
              applicant_type=req.applicant.type.value, outcome=outcome, rule=rule,
              details=details)
    s.add(v)
    return v


def _record_refusal(s: Session, ctx: CounterContext, r: Resident, req: CounterRequest,
                    app: Application | None, now: datetime, office: str, refused: Refused,
                    card: Card | None = None, kinds=(), seen: dict | None = None) -> Refused:
    """A refusal leaves a trace: the application (refused, unless it is a proxy's
    application still waiting for its form), the visit, and an audit entry."""
    if app is None:
        app = _new_application(s, r, card, req, kinds, now, office)
        app.state = "refused"
    if app.state != "inquiry_mailed":
        app.state = "refused"
    app.refusal_rule = refused.rule
    app.updated_at = now
    _visit(s, app, req, now, office, "refused", refused.rule, **(seen or {}))
    s.flush()
    record(s, f"counter.{req.procedure.value}.refused", now, actor=ctx.actor,
           subject=f"resident:{r.id}", application_id=app.id, rule=refused.rule,
           missing=[str(m) for m in refused.missing], applicant=req.applicant.type,
           office=office)
    return refused


def _inquiry(s: Session, ctx: CounterContext, r: Resident, req: CounterRequest,
             app: Application | None, old: Letter | None, card: Card | None, kinds,
             now: datetime, office: str, decision: SecondVisit,
             seen: dict | None = None) -> InquiryMailed:
    """R5.4: visit 1 (mail the form) or a restart after PINs that did not match (void the
    old reference, mail a new form; nothing is issued today)."""
    restarted = app is not None
    app = app or _new_application(s, r, card, req, kinds, now, office)
    app.state = "inquiry_mailed"
    app.updated_at = now
    letter = mail_inquiry_form(s, r, app, now)
    _visit(s, app, req, now, office, "pin_mismatch" if restarted else "inquiry_mailed",
           decision.rule, reference=letter.reference, **(seen or {}))
    s.flush()
    record(s, f"counter.{req.procedure.value}.inquiry_mailed", now, actor=ctx.actor,
           subject=f"resident:{r.id}", application_id=app.id, letter_id=letter.id,
           reference=letter.reference, restarted=restarted,
           voided=old.reference if old is not None else None, rule=decision.rule)
    return InquiryMailed(app.id, letter.id, letter.reference, decision, restarted,
                         old.reference if old is not None else None)


def accepted_result(intake: Intake) -> Accepted:
    return Accepted(intake.application.id, intake.application.procedure, intake.decision)


__all__ = ["Intake", "accept_in", "accepted_result", "ApplicantType"]

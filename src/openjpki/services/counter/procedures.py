"""The counter procedures of R5.1 as use cases, each in ONE transaction, time injected.

Three building blocks, for the counter screen, the HTTP API and a deferred-work queue:

- :func:`apply` — a visit: accept and, when allowed, carry out at once (one transaction).
- :func:`accept` — check and record only (state ``accepted``), to finish later (R5.9).
- :func:`execute` — carry out an accepted application (another transaction, later).

and one function per procedure on top of :func:`apply` (``issue_new_card``, ``renew`` …)
with plain arguments. Every answer is a value: :class:`Completed`, :class:`InquiryMailed`,
:class:`Accepted` or the rules' :class:`Refused` — a refusal is never raised. Exceptions are
for input that is not a question (:class:`InputError`) and for failures of the machinery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from openjpki.rules import Allowed, Refused
from openjpki.rules.documents import Procedure
from openjpki.rules.kinds import CertKind
from openjpki.services.counter.accept import Intake, accept_in, accepted_result
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.execute import execute_in
from openjpki.services.counter.requests import (
    ApplicantInput, CounterRequest, NO_PINS, PinEntry,
)
from openjpki.services.counter.residents import InputError, NotFound
from openjpki.services.counter.results import Accepted, Completed, InquiryMailed, Outcome
from openjpki.services.counter.staging import card_outcome
from openjpki.store.counter_models import Application
from openjpki.store.residents import get_resident

HOLDER = ApplicantInput()


def _finish(ctx: CounterContext, outcome: Outcome) -> Outcome:
    if isinstance(outcome, Completed) and outcome.ended:
        ctx.notify_status_change()  # after the commit: caches must see the new status
    return outcome


def apply(ctx: CounterContext, req: CounterRequest, pins: PinEntry = NO_PINS, *,
          now: datetime) -> Completed | InquiryMailed | Refused:
    """One visit: accept ``req`` and, when the rules allow it, carry it out — all in one
    transaction (the refusal, the inquiry letter or the work, and their audit entries)."""
    with card_outcome(ctx) as staged, staged.store.transaction() as s:
        # A new card stays staged until this transaction commits (counter.staging).
        intake = accept_in(s, staged, req, now, pins)
        if not isinstance(intake, Intake):
            return intake
        outcome = execute_in(s, staged, intake, req, pins, now)
    return _finish(ctx, outcome)


def accept(ctx: CounterContext, req: CounterRequest, *, now: datetime,
           pins: PinEntry | None = None) -> Accepted | InquiryMailed | Refused:
    """Check and record ``req`` without carrying it out (R5.9: the counter keeps the card and
    the sealed PINs and finishes later with :func:`execute`)."""
    with ctx.store.transaction() as s:
        intake = accept_in(s, ctx, req, now, pins)
        if not isinstance(intake, Intake):
            return intake
        return accepted_result(intake)


def execute(ctx: CounterContext, application_id: int, pins: PinEntry = NO_PINS, *,
            now: datetime) -> Completed | Refused:
    """Carry out an application :func:`accept` recorded (InputError unless it is waiting)."""
    from openjpki.services.counter.queries import card_by_id

    with card_outcome(ctx) as staged, staged.store.transaction() as s:
        app = s.get(Application, application_id, with_for_update=True)
        if app is None:
            raise NotFound(f"no application {application_id}")
        if app.state != "accepted":
            raise InputError(f"application {application_id} is {app.state}, not accepted")
        req = request_of(app)
        r = get_resident(s, app.resident_id, for_update=True)
        assert r is not None
        card = card_by_id(s, app.card_id, for_update=True) if app.card_id else None
        kinds = tuple(CertKind.parse(k) for k in app.kinds.split(",") if k)
        d = (app.details or {}).get("decision") or {}
        decision = Allowed(d.get("rule", "R5.9"), d.get("message_ja", "受付済み"),
                           d.get("message_en", "Accepted"))
        intake = Intake(app, r, card, kinds, decision)
        outcome = execute_in(s, staged, intake, req, pins, now)
    return _finish(ctx, outcome)  # type: ignore[return-value]


def request_of(app: Application) -> CounterRequest:
    """The request an application was accepted for (as stored, without documents)."""
    d = app.details or {}
    return CounterRequest(
        procedure=app.procedure, resident_id=app.resident_id,
        kinds=tuple(k for k in app.kinds.split(",") if k), card_id=app.card_id,
        new_card=bool(d.get("new_card")), declined=tuple(d.get("declined") or ()),
        applicant=ApplicantInput(type=app.applicant_type),
        office=app.office, sign_exception=bool(d.get("sign_exception")),
        paid_card_reissue=bool(d.get("paid_card_reissue")),
        reason=d.get("reason"))


# --- one function per procedure ---------------------------------------------------------------

def issue_new_card(ctx: CounterContext, resident_id: int, pins: PinEntry, *, now: datetime,
                   declined: Iterable[str] = (), kinds: Iterable[str] = (),
                   applicant: ApplicantInput = HOLDER, office: str | None = None,
                   sign_exception: bool = False) -> Completed | InquiryMailed | Refused:
    """新規発行 with a new card (R5.10): both certificates unless declined (SIGN left out
    under 15 or for an adult ward, R1.5, unless asked for as the R5.6 exception)."""
    return apply(ctx, CounterRequest(
        Procedure.NEW_ISSUANCE, resident_id, kinds=tuple(kinds), new_card=True,
        declined=tuple(declined), applicant=applicant, office=office,
        sign_exception=sign_exception), pins, now=now)


def issue_certificates(ctx: CounterContext, resident_id: int, pins: PinEntry, *,
                       now: datetime, kinds: Iterable[str] = (),
                       applicant: ApplicantInput = HOLDER, office: str | None = None,
                       sign_exception: bool = False, card_id: int | None = None
                       ) -> Completed | InquiryMailed | Refused:
    """新規発行 on the holder's card: a declined certificate (R5.10), SIGN at 15 (R5.11), or
    a new one after expiry (R3.3)."""
    return apply(ctx, CounterRequest(
        Procedure.NEW_ISSUANCE, resident_id, kinds=tuple(kinds), card_id=card_id,
        applicant=applicant, office=office, sign_exception=sign_exception), pins, now=now)


def renew(ctx: CounterContext, resident_id: int, pins: PinEntry, *, now: datetime,
          kinds: Iterable[str] = (), applicant: ApplicantInput = HOLDER,
          office: str | None = None) -> Completed | InquiryMailed | Refused:
    """更新 (R3.1–R3.3): new keys on the card; the old certificates revoked superseded."""
    return apply(ctx, CounterRequest(Procedure.RENEWAL, resident_id, kinds=tuple(kinds),
                                     applicant=applicant, office=office), pins, now=now)


def reissue_sign(ctx: CounterContext, resident_id: int, pins: PinEntry, *, now: datetime,
                 applicant: ApplicantInput = HOLDER, office: str | None = None
                 ) -> Completed | InquiryMailed | Refused:
    """SIGN again after a change of facts (R4.5), carrying the new facts."""
    return apply(ctx, CounterRequest(Procedure.REISSUE_AFTER_CHANGE, resident_id,
                                     kinds=(CertKind.SIGN,), applicant=applicant,
                                     office=office), pins, now=now)


def change_pin(ctx: CounterContext, resident_id: int, kind: str, current: str, new: str, *,
               now: datetime, applicant: ApplicantInput = HOLDER,
               office: str | None = None) -> Completed | InquiryMailed | Refused:
    """暗証番号の変更 (R1.7): needs the current PIN."""
    k = CertKind.parse(kind)
    pins = PinEntry(**{k.value: new, f"current_{k.value}": current})
    return apply(ctx, CounterRequest(Procedure.PIN_CHANGE, resident_id, kinds=(k,),
                                     applicant=applicant, office=office), pins, now=now)


def reset_pin(ctx: CounterContext, resident_id: int, kind: str, card_pin: str, new: str, *,
              now: datetime, applicant: ApplicantInput = HOLDER,
              office: str | None = None) -> Completed | InquiryMailed | Refused:
    """暗証番号の初期化・ロック解除 (R1.6, R6.5): needs the resident-registry PIN."""
    k = CertKind.parse(kind)
    pins = PinEntry(card=card_pin, **{k.value: new})
    return apply(ctx, CounterRequest(Procedure.PIN_RESET, resident_id, kinds=(k,),
                                     applicant=applicant, office=office), pins, now=now)


def revoke(ctx: CounterContext, resident_id: int, *, now: datetime,
           kinds: Iterable[str] = (), reason: str = "voluntary",
           applicant: ApplicantInput = HOLDER, office: str | None = None
           ) -> Completed | InquiryMailed | Refused:
    """失効 on request (R4.3): ``voluntary`` (cessationOfOperation), ``lost_card`` (the card
    is marked lost; keyCompromise), ``key_compromise``, ``destroyed_before_use``. A held
    certificate becomes revoked with the final reason."""
    return apply(ctx, CounterRequest(Procedure.REVOCATION, resident_id, kinds=tuple(kinds),
                                     reason=reason, applicant=applicant, office=office),
                 now=now)


def hold(ctx: CounterContext, resident_id: int, *, now: datetime, kinds: Iterable[str] = (),
         applicant: ApplicantInput = HOLDER, office: str | None = None
         ) -> Completed | InquiryMailed | Refused:
    """一時保留 (R4.3): certificateHold at once, never released, revoked later."""
    return apply(ctx, CounterRequest(Procedure.HOLD, resident_id, kinds=tuple(kinds),
                                     applicant=applicant, office=office), now=now)

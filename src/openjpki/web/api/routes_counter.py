"""``/api/counter/…``: every counter procedure of R5.1, and the voluntary proxy's two visits
(R5.4). Each answers 200 with the work done, 202 when it waits (the proxy's inquiry form is
in the mail, or the work was deferred because the authorities are unavailable, R5.9), or a
problem response with the refusing rule. With a clerk's token, a procedure the clerk's role
may not do is refused with 403 (services.clerks.may: a revocation or hold asked for by
someone other than the holder is kept for a supervisor, R4.3) and the audit log names the
clerk."""

from __future__ import annotations

from typing import Any, Optional, Union

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from openjpki.web.api.auth import authenticate, authorize, counter_for
from openjpki.web.api.errors import INVALID_INPUT, answer, guarded, problem_responses
from openjpki.web.api.models import (
    ApplicantIn, HoldIn, IssuanceIn, PinChangeIn, PinResetIn, PinsIn, ProxyVisit1In,
    ProxyVisit2In, RenewalIn, RevocationIn, SignReissueIn,
)
from openjpki.web.api.models_out import CompletedOut, DeferredOut, InquiryMailedOut
from openjpki.web.api.state import ApiState
from openjpki.web.problems import Problem

router = APIRouter(prefix="/api/counter", tags=["counter"],
                   dependencies=[Depends(authenticate)])

_WAITING = {"model": Union[DeferredOut, InquiryMailedOut],
            "description": "Waiting: the work was deferred (R5.9: follow item_id at "
                           "/api/deferred/{id}) or the proxy's inquiry form is in the mail "
                           "(R5.4)."}
PROCEDURE = dict(response_model=CompletedOut, status_code=200,
                 responses={202: _WAITING,
                            **problem_responses(400, 401, 403, 404, 409, 422, 503)})


def _state(request: Request) -> ApiState:
    return request.app.state.openjpki_api


def _applicant(a: ApplicantIn):
    from openjpki.rules.documents import PhotoId, PresentedId
    from openjpki.services.counter import ApplicantInput, InquiryAnswer

    ids = []
    for d in a.ids:
        try:
            kind: Any = PhotoId(d.kind)
        except ValueError:
            kind = d.kind  # not an accepted document: the rules refuse it (R5.7)
        ids.append(PresentedId(kind, valid_until=d.valid_until, issued_on=d.issued_on,
                               original=d.original,
                               shows_current_name_address=d.shows_current_name_address,
                               has_photo=d.has_photo))
    inquiry = None
    if a.inquiry is not None:
        inquiry = InquiryAnswer(reference=a.inquiry.reference, complete=a.inquiry.complete,
                                sealed=a.inquiry.sealed,
                                from_expiry_notice=a.inquiry.from_expiry_notice)
    return ApplicantInput(type=a.type, ids=tuple(ids), authority_proofs=tuple(a.authority_proofs),
                          representative_id=a.representative_id,
                          holder_present=a.holder_present,
                          letter_of_attorney=a.letter_of_attorney, inquiry=inquiry,
                          card_presented=a.card_presented)


def _pins(p: Optional[PinsIn], **more: Optional[str]):
    from openjpki.services.counter import PinEntry

    given = p.model_dump() if p is not None else {}
    given.update({k: v for k, v in more.items() if v is not None})
    return PinEntry(**given)


def _submit(request: Request, build) -> JSONResponse:
    """Build the request and the PINs, check that the caller's role may do the procedure for
    this applicant (403), and hand them to the counter's front door (done at once, or
    deferred when the authorities are unavailable), acting as the caller."""
    from openjpki.services.deferred import submit

    st = _state(request)

    def run():
        req, pins = build()
        applicant = req.applicant.type
        authorize(request, req.procedure.value,
                  applicant_type=getattr(applicant, "value", applicant))
        ctx = counter_for(request)
        return submit(ctx, st.health, req, pins, now=st.now())
    status, body = answer(guarded(run))
    return JSONResponse(body, status_code=status)


@router.post("/issuance", **PROCEDURE)
def issuance(body: IssuanceIn, request: Request):
    """新規発行: a new card with both certificates less the declined ones (R5.10; SIGN left
    out under 15 or for an adult ward, R1.5, unless asked for as the R5.6 exception), or
    with ``new_card: false`` a certificate on the holder's card (R3.3, R5.11). Needs the
    resident-registry PIN (R1.6) and the PINs to set (R1.3)."""
    from openjpki.services.counter import CounterRequest

    if body.new_card and body.card_id is not None:
        raise Problem(400, "Invalid input", "card_id names an existing card: send it with "
                      "new_card false", type=INVALID_INPUT)
    if body.paid_card_reissue and not body.new_card:
        raise Problem(400, "Invalid input", "paid_card_reissue goes with new_card true: the "
                      "fee is for certificates on a re-issued card (R3.6)", type=INVALID_INPUT)
    return _submit(request, lambda: (CounterRequest(
        "new_issuance", body.resident_id, kinds=tuple(body.kinds), card_id=body.card_id,
        new_card=body.new_card, declined=tuple(body.declined),
        applicant=_applicant(body.applicant), office=body.office,
        sign_exception=body.sign_exception, paid_card_reissue=body.paid_card_reissue),
        _pins(body.pins)))


@router.post("/renewal", **PROCEDURE)
def renewal(body: RenewalIn, request: Request):
    """更新 (R3.1–R3.3): from the day after the date three months before expiry; new keys on
    the card, the old certificates revoked as superseded (R3.7)."""
    from openjpki.services.counter import CounterRequest

    return _submit(request, lambda: (CounterRequest(
        "renewal", body.resident_id, kinds=tuple(body.kinds),
        applicant=_applicant(body.applicant), office=body.office), _pins(body.pins)))


@router.post("/sign-reissue", **PROCEDURE)
def sign_reissue(body: SignReissueIn, request: Request):
    """SIGN again after a change of facts revoked it (R4.5), carrying the new facts; the card
    face must be up to date first (R5.2, …/events/card-particulars)."""
    from openjpki.services.counter import CounterRequest

    return _submit(request, lambda: (CounterRequest(
        "reissue_after_change", body.resident_id, kinds=("sign",),
        applicant=_applicant(body.applicant), office=body.office), _pins(body.pins)))


@router.post("/pin-change", **PROCEDURE)
def pin_change(body: PinChangeIn, request: Request):
    """暗証番号の変更 (R1.7): needs the current PIN; a wrong one counts (R1.4)."""
    from openjpki.services.counter import CounterRequest

    current = {f"current_{body.kind}": body.current_pin, body.kind: body.new_pin}
    return _submit(request, lambda: (CounterRequest(
        "pin_change", body.resident_id, kinds=(body.kind,),
        applicant=_applicant(body.applicant), office=body.office), _pins(None, **current)))


@router.post("/pin-reset", **PROCEDURE)
def pin_reset(body: PinResetIn, request: Request):
    """暗証番号の初期化 (R1.6, R6.5): with the resident-registry PIN; clears the lock."""
    from openjpki.services.counter import CounterRequest

    return _submit(request, lambda: (CounterRequest(
        "pin_reset", body.resident_id, kinds=(body.kind,),
        applicant=_applicant(body.applicant), office=body.office),
        _pins(None, card=body.card_pin, **{body.kind: body.new_pin})))


@router.post("/revocation", **PROCEDURE)
def revocation(body: RevocationIn, request: Request):
    """失効 on the holder's request (R4.3): voluntary, lost_card (the card ends too),
    key_compromise, destroyed_before_use. A held certificate takes the final reason."""
    from openjpki.services.counter import CounterRequest

    return _submit(request, lambda: (CounterRequest(
        "revocation", body.resident_id, kinds=tuple(body.kinds), reason=body.reason,
        applicant=_applicant(body.applicant), office=body.office), _pins(None)))


@router.post("/hold", **PROCEDURE)
def hold(body: HoldIn, request: Request):
    """一時保留 (R4.3): certificateHold at once, never released, revoked later."""
    from openjpki.services.counter import CounterRequest

    return _submit(request, lambda: (CounterRequest(
        "hold", body.resident_id, kinds=tuple(body.kinds),
        applicant=_applicant(body.applicant), office=body.office), _pins(None)))


def _proxy(a: ApplicantIn, **inquiry) -> ApplicantIn:
    data = a.model_dump()
    data["type"] = "voluntary_proxy"
    if inquiry:
        data["inquiry"] = inquiry
    return ApplicantIn.model_validate(data)


@router.post("/proxy/visit-1", **PROCEDURE)
def proxy_visit_1(body: ProxyVisit1In, request: Request):
    """R5.4 visit 1: a voluntary proxy with the holder's card and their own photo ID. The
    inquiry form is mailed to the holder (202 ``inquiry_mailed`` with its reference), unless
    R5.5 allows one visit."""
    from openjpki.services.counter import CounterRequest

    applicant = _proxy(body.applicant)
    return _submit(request, lambda: (CounterRequest(
        body.procedure, body.resident_id, kinds=tuple(body.kinds),
        applicant=_applicant(applicant), office=body.office), _pins(None)))


@router.post("/proxy/visit-2", **PROCEDURE)
def proxy_visit_2(body: ProxyVisit2In, request: Request):
    """R5.4 visit 2: the proxy brings the form back, complete and sealed, with the PINs the
    holder wrote (``pins``). PINs that do not match void the form and start a new inquiry
    (202, ``restarted``)."""
    from openjpki.services.counter import CounterRequest

    applicant = _proxy(body.applicant, reference=body.reference, complete=body.complete,
                       sealed=body.sealed)
    return _submit(request, lambda: (CounterRequest(
        body.procedure, body.resident_id, kinds=tuple(body.kinds),
        applicant=_applicant(applicant), office=body.office), _pins(body.pins)))


"""The counter procedures' pages (R5.1): one form per procedure and applicant type, with the
checklist of what the applicant brings (R5.3, R5.7) and the PINs entered (R1.6, R1.7); the
voluntary proxy's two visits (R5.4) on the same form (``applicant=voluntary_proxy``, and
``visit=2`` with the inquiry form's reference).

The work goes through the counter's front door, ``services.deferred.submit`` (done at once,
or kept for later when the authorities are unavailable, R5.9). Bad input is shown beside
its field; a refusal is shown above the form with its rule, the day it becomes possible
(``opens_on``) and what is missing, so the clerk can correct and send again.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Optional

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openjpki.rules import Refused
from openjpki.rules.documents import ApplicantType, AuthorityProof, PhotoId, Procedure
from openjpki.web.pages.auth import clerk_page, forbidden
from openjpki.web.pages.core import Page, call
from openjpki.web.pages.counter_routes import not_found, parse_id
from openjpki.web.pages.forms import Form

router = APIRouter(include_in_schema=False)

KIND_OPTIONS = [("sign", ("署名用電子証明書", "signature certificate (SIGN)")),
                ("auth", ("利用者証明用電子証明書", "user authentication certificate (AUTH)"))]
REASONS = [("voluntary", ("本人の申出（利用をやめる）", "the holder's request (stop using it)")),
           ("lost_card", ("カードの紛失", "lost card")),
           ("key_compromise", ("秘密鍵の危殆化の疑い", "suspected key compromise")),
           ("destroyed_before_use", ("使用前の破損", "destroyed before use"))]
NOT_LISTED = "other"
PHOTO_OPTIONS = ([("", ("（提示なし）", "(none shown)"))]
                 + [(p.value, (p.ja, p.en)) for p in PhotoId]
                 + [(NOT_LISTED, ("上記以外（健康保険証など）", "another document (e.g. health "
                                  "insurance card)"))])
PROOF_OPTIONS = [(p.value, (p.ja, p.en)) for p in AuthorityProof]
APPLICANT_OPTIONS = [(a.value, (a.ja, a.en)) for a in ApplicantType]
# Rules whose refusals are about what was brought or typed (the rest: the state of things).
APPLICATION_RULES = frozenset({"R1.3", "R1.5", "R1.6", "R2.6", "R5.3", "R5.4", "R5.5",
                               "R5.6", "R5.7", "R5.10"})
PIN_RULES = frozenset({"R1.4", "R1.6", "R1.7"})


def refusal_status(d: Refused) -> int:
    return 422 if d.missing or d.rule in APPLICATION_RULES else 409


def _procedure(slug: str) -> Optional[Procedure]:
    try:
        return Procedure(slug)
    except ValueError:
        return None


NOTICE_VISIT = 0
"""The one visit of a proxy renewing with the form enclosed in the expiry notice (R5.5 a)."""


def _visit(value: Optional[str], applicant: ApplicantType, procedure: Procedure) -> int:
    """A voluntary proxy's visit: 1, 2, or :data:`NOTICE_VISIT` (renewal only)."""
    if applicant is not ApplicantType.VOLUNTARY_PROXY:
        return 1
    if value == "notice" and procedure is Procedure.RENEWAL:
        return NOTICE_VISIT
    return 2 if value == "2" else 1


def _applicant(value: Optional[str]) -> ApplicantType:
    try:
        return ApplicantType(value or "holder")
    except ValueError:
        return ApplicantType.HOLDER


async def _load(request: Request, rid: str, slug: str):
    """(page, resident, procedure) or a response (sign-in redirect, 404 page)."""
    from openjpki.services.counter import show_resident

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    resident_id = parse_id(rid)
    procedure = _procedure(slug)
    if resident_id is None:
        return not_found(page)
    if procedure is None:
        return page.error(404, ("その手続きはありません。", "No such procedure."))
    st = request.app.state.openjpki_pages
    resident, error = await call(page, lambda: show_resident(st.counter(), resident_id))
    if error:
        return error
    return page, resident, procedure


def _form_context(page: Page, resident: dict, procedure: Procedure, applicant: ApplicantType,
                  visit: int, today: date, **extra: Any) -> dict[str, Any]:
    from openjpki.web.pages.views import checklist, renewal_preview

    active = [c for c in resident["cards"] if c["state"] == "active"]
    ctx = {
        "title": (f"{procedure.ja}（{resident['name']}）", f"{procedure.en} ({resident['name']})"),
        "resident": resident, "procedure": procedure, "applicant": applicant, "visit": visit,
        "check": checklist(resident, procedure, applicant, today, visit=visit),
        "has_card": bool(active), "kind_options": KIND_OPTIONS, "reasons": REASONS,
        "photo_options": PHOTO_OPTIONS, "proof_options": PROOF_OPTIONS,
        "applicant_options": APPLICANT_OPTIONS,
        "action": f"/counter/residents/{resident['id']}/procedures/{procedure.value}",
        "decision": None,
        "preview": renewal_preview(resident, today) if procedure is Procedure.RENEWAL else [],
    }
    ctx.update(extra)
    return ctx


@router.get("/counter/residents/{rid}/juki-card")
async def juki_card(request: Request, rid: str) -> Response:
    """R2.6: certificates on the legacy 住民基本台帳カード are neither issued nor renewed any
    more; the clerk is told so, with the way on (a My Number Card and its certificates)."""
    from openjpki.rules.expiry import legacy_juki_certificate_request
    from openjpki.services.counter import show_resident

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    resident_id = parse_id(rid)
    if resident_id is None:
        return not_found(page)
    st = request.app.state.openjpki_pages
    resident, error = await call(page, lambda: show_resident(st.counter(), resident_id))
    if error:
        return error
    return page.render("counter/juki.html", status=409, resident=resident,
                       decision=legacy_juki_certificate_request(),
                       title=("住民基本台帳カードの電子証明書", "Certificates on the 住基カード"))


@router.get("/counter/residents/{rid}/procedures/{slug}")
async def procedure_form(request: Request, rid: str, slug: str) -> Response:
    loaded = await _load(request, rid, slug)
    if isinstance(loaded, Response):
        return loaded
    page, resident, procedure = loaded
    q = request.query_params
    applicant = _applicant(q.get("applicant"))
    visit = _visit(q.get("visit"), applicant, procedure)
    st = request.app.state.openjpki_pages
    from openjpki.rules import to_jst

    values = {"reference": (q.get("reference") or "")[:40], "form_complete": "1",
              "form_sealed": "1", "card_presented": "1",
              "new_card": "" if any(c["state"] == "active" for c in resident["cards"]) else "1"}
    return page.render("counter/procedure.html",
                       **_form_context(page, resident, procedure, applicant, visit,
                                       to_jst(st.now()).date(), values=values))


@router.post("/counter/residents/{rid}/procedures/{slug}")
async def procedure_submit(request: Request, rid: str, slug: str) -> Response:
    from openjpki.rules import to_jst
    from openjpki.services.clerks import may

    loaded = await _load(request, rid, slug)
    if isinstance(loaded, Response):
        return loaded
    page, resident, procedure = loaded
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    form = Form(data)
    applicant = _applicant(form.choice("applicant", [a.value for a in ApplicantType],
                                       default="holder"))
    visit = _visit(form.raw("visit"), applicant, procedure)
    if not may(page.clerk, procedure.value, applicant_type=applicant.value):
        return forbidden(page, (f"本人以外の申請による{procedure.ja}",
                                f"A {procedure.en} asked for by someone other than the holder"))
    st = request.app.state.openjpki_pages
    today = to_jst(st.now()).date()
    built = _build(form, resident, procedure, applicant, visit, today)

    def again(status: int, decision: Any = None) -> Response:
        return page.render("counter/procedure.html", status=status,
                           **_form_context(page, resident, procedure, applicant, visit, today,
                                           errors=form.errors, values=form.values(),
                                           decision=decision))
    if not form.ok or built is None:
        return again(422)
    req, pins = built

    def run():
        from openjpki.services.deferred import submit

        ctx = st.counter(page.clerk.actor)
        return submit(ctx, st.health, req, pins, now=st.now())
    outcome, error = await call(page, run)
    if error:
        return error
    if isinstance(outcome, Refused):
        if outcome.rule in ("R5.4", "R5.5") and "reference" in data and not outcome.missing:
            form.error("reference", f"{outcome.message_ja}（{outcome.rule}）",
                       f"{outcome.message_en} ({outcome.rule})")
        if outcome.rule in PIN_RULES and "card_pin" in data:
            form.error("card_pin", f"{outcome.message_ja}（{outcome.rule}）",
                       f"{outcome.message_en} ({outcome.rule})")
        return again(refusal_status(outcome), outcome)
    body = outcome.to_dict()
    return page.render("counter/result.html", title=(procedure.ja, procedure.en),
                       resident=resident, procedure=procedure, outcome=body,
                       kind=outcome.outcome, caps=expiry_caps(body, procedure),
                       services_from=services_from(procedure, body, today))


def services_from(procedure: Procedure, body: dict, today: date) -> Optional[date]:
    """R3.5: after a renewal, convenience-store services work from 2 business days later."""
    from openjpki.rules import convenience_services_from

    if body.get("outcome") != "completed" or procedure is not Procedure.RENEWAL:
        return None
    return convenience_services_from(today)


def expiry_caps(body: dict, procedure: Procedure | None = None) -> list[dict]:
    """What the clerk must be told of each issued certificate's expiry: capped by the card's
    own expiry (R2.1) or by AUTH (R2.2), and whether a renewal gained no day at all (only a
    renewal: a re-issue after a change of facts or a new issuance is not there to extend)."""
    card_end = body.get("card_expires_on")
    previous = body.get("previous_not_after") or {}
    caps = []
    for c in body.get("issued", ()):
        basis = ("card" if c["not_after"] == card_end else
                 "auth" if c["expiry_rule"] == "R2.2" else
                 "stay" if c["expiry_rule"] == "R2.3" else None)
        gained = previous.get(c["kind"])
        nothing = (procedure is Procedure.RENEWAL and gained is not None
                   and c["not_after"] <= gained)
        if basis is not None or nothing:
            caps.append({"kind": c["kind"], "basis": basis, "not_after": c["not_after"],
                         "nothing_gained": nothing, "previous": gained,
                         "rule": {"card": "R2.1", "auth": "R2.2", "stay": "R2.3"}.get(
                             basis or "", c["expiry_rule"])})
    return caps


def _build(form: Form, resident: dict, procedure: Procedure, applicant: ApplicantType,
           visit: int, today: date):
    """The CounterRequest and PinEntry of the posted form (None with errors in ``form``)."""
    from openjpki.rules.documents import PresentedId
    from openjpki.services.counter import (
        ApplicantInput, CounterRequest, InquiryAnswer, PinEntry,
    )

    kinds_all = [k for k, _ in KIND_OPTIONS]
    # Photo ID (R5.7).
    ids = []
    photo = form.choice("photo_id", [v for v, _ in PHOTO_OPTIONS], required=False)
    valid_until = form.date("photo_valid_until", required=False)
    issued_on = form.date("photo_issued_on", required=False, not_after=today)
    if photo:
        kind: Any = "健康保険証など" if photo == NOT_LISTED else PhotoId(photo)
        ids.append(PresentedId(kind, valid_until=valid_until, issued_on=issued_on,
                               original=not form.flag("photo_copy"),
                               shows_current_name_address=not form.flag("photo_mismatch")))
    proofs = form.choices("proofs", [v for v, _ in PROOF_OPTIONS])
    representative = form.integer("representative_id", required=False)
    inquiry = None
    if applicant is ApplicantType.VOLUNTARY_PROXY and visit in (2, NOTICE_VISIT):
        reference = form.text("reference", max_len=40)
        inquiry = InquiryAnswer(reference=reference, complete=form.flag("form_complete"),
                                sealed=form.flag("form_sealed"),
                                from_expiry_notice=visit == NOTICE_VISIT)
    card_presented = True
    if not procedure.uses_card:
        card_presented = form.flag("card_presented")
    applicant_in = ApplicantInput(
        type=applicant.value, ids=tuple(ids), authority_proofs=tuple(proofs),
        representative_id=representative, holder_present=form.flag("holder_present"),
        letter_of_attorney=form.flag("letter_of_attorney"), inquiry=inquiry,
        card_presented=card_presented)

    kinds: tuple[str, ...] = ()
    new_card = False
    declined: list[str] = []
    reason = None
    pins = PinEntry()
    proxy_first = applicant is ApplicantType.VOLUNTARY_PROXY and visit == 1
    # On visit 2 the PINs are those the holder wrote on the form: their form is checked by
    # the counter (R5.4: a mismatch restarts the inquiry), not refused here.
    check = not (applicant is ApplicantType.VOLUNTARY_PROXY and visit in (2, NOTICE_VISIT))
    if procedure in (Procedure.PIN_CHANGE, Procedure.PIN_RESET):
        kind = form.choice("kind", kinds_all)
        kinds = (kind,) if kind else ()
        if not proxy_first and kind:
            new = form.pin("new_pin", kind, check_form=check)
            if check:
                form.same("new_pin", "new_pin2", new)
            if procedure is Procedure.PIN_CHANGE:
                current = form.pin("current_pin", kind, check_form=False)
                pins = PinEntry(**{kind: new, f"current_{kind}": current})
            else:
                card = form.pin("card_pin", "card", check_form=check)
                pins = PinEntry(card=card, **{kind: new})
    else:
        if procedure is Procedure.REISSUE_AFTER_CHANGE:
            kinds = ("sign",)
        else:
            kinds = tuple(form.choices("kinds", kinds_all))
        if procedure is Procedure.NEW_ISSUANCE:
            new_card = form.flag("new_card")
            if new_card:
                declined = form.choices("declined", kinds_all)
                if set(declined) == set(kinds_all):
                    form.error("declined", "両方を辞退することはできません。",
                               "Both certificates cannot be declined.")
        if procedure is Procedure.REVOCATION:
            reason = form.choice("reason", [v for v, _ in REASONS], default="voluntary")
        if procedure.issues and not proxy_first:
            from openjpki.web.pages.views import checklist

            wanted = kinds or checklist(resident, procedure, applicant, today)["kinds"]
            if form.flag("sign_exception") and "sign" not in wanted:
                wanted = ("sign",) + tuple(wanted)  # R5.6: SIGN asked for as the exception
                kinds = tuple(k for k in wanted if k not in declined)
            if new_card:
                wanted = tuple(k for k in wanted if k not in declined)
            given: dict[str, Optional[str]] = {"card": form.pin("card_pin", "card",
                                                                check_form=check)}
            for k in ("sign", "auth"):
                if k in wanted:
                    given[k] = form.pin(f"{k}_pin", k, check_form=check)
                    if check:
                        form.same(f"{k}_pin", f"{k}_pin2", given[k])
            pins = PinEntry(**given)
    if not form.ok:
        return None
    try:
        req = CounterRequest(procedure.value, resident["id"], kinds=kinds, new_card=new_card,
                             declined=tuple(declined), applicant=applicant_in,
                             sign_exception=form.flag("sign_exception"), reason=reason,
                             paid_card_reissue=new_card and form.flag("paid_card_reissue"))
    except ValueError as e:
        form.error("kinds", "手続きの内容を確認してください：" + str(e),
                   "Check the request: " + str(e))
        return None
    return req, pins

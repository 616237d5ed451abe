"""The kiosk's pages (sandbox): the PIN reset of R6 — the smartphone app's step (the other
PIN, and for SIGN the face match, R6.1–R6.3) then the kiosk's step within 24 hours (R6.2,
R6.3) — and convenience-store issuance of a certificate of residence with the AUTH
certificate (R7.1).

Kiosks work 6:30–23:00 (R6.4, R7.2): outside those hours the start page is the refusal
screen naming both rules, and the services refuse each step with its rule. The card is
"put on the reader" by typing its number (see :mod:`.cards`). The app step is not bound to
the kiosk hours (it runs on the phone).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from openjpki.rules import Refused, kiosk_open
from openjpki.web.pages.core import Page, attempt
from openjpki.web.pages.forms import Form

router = APIRouter(include_in_schema=False)
TARGETS = [("sign", ("署名用電子証明書の暗証番号", "the SIGN PIN")),
           ("auth", ("利用者証明用電子証明書の暗証番号", "the AUTH PIN"))]
MAX_REFERENCES = 10


def _page(request: Request) -> Page:
    page = Page.of(request)
    page.extra["area"] = "kiosk"
    return page


def _state(request: Request):
    return request.app.state.openjpki_pages


def _hours(st):
    from openjpki.services.kiosk import kiosk_hours

    return kiosk_hours(st.counter())


@router.get("/kiosk")
async def kiosk_home(request: Request) -> Response:
    page = _page(request)
    st = _state(request)
    hours, problem = await attempt(lambda: _hours(st))
    if problem:
        return page.error(*problem)
    now = st.now()
    closed = [d for d in (kiosk_open(now, "R6.4", hours), kiosk_open(now, "R7.2", hours))
              if isinstance(d, Refused)]
    return page.render("kiosk/home.html", title=("キオスク端末", "Kiosk"), closed=closed,
                       hours=str(hours), now=now)


def _production(request: Request, page: Page) -> Response | None:
    """The refusal page when the server may not read cards itself (production mode)."""
    from openjpki.web.pages.cards import PRODUCTION_REFUSAL, server_reader_allowed

    st = _state(request)
    if server_reader_allowed(request.app.state, st.web.settings):
        return None
    return page.error(403, PRODUCTION_REFUSAL, title=("サンドボックス専用", "Sandbox only"))


def _card_number(form: Form) -> str | None:
    number = form.text("card_number", max_len=40)
    return number


# --- the smartphone app's step (R6.1–R6.3) ---------------------------------------------------------

@router.get("/kiosk/app")
async def app_form(request: Request) -> Response:
    page = _page(request)
    return page.render("kiosk/app.html", title=("スマートフォンアプリでの本人確認",
                                               "Identity check in the smartphone app"),
                       targets=TARGETS, values={"target": "sign"})


@router.post("/kiosk/app")
async def app_submit(request: Request) -> Response:
    from openjpki.services.smartphone import card_photo_token, prepare_pin_reset
    from openjpki.web.pages.cards import card_in_reader, card_record

    page = _page(request)
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    refused = _production(request, page)
    if refused:
        return refused
    form = Form(data)
    number = _card_number(form)
    target = form.choice("target", [v for v, _ in TARGETS])
    other = form.pin("other_pin", "auth" if target == "sign" else "sign", check_form=False)
    face_ok = form.flag("face_match")
    title = ("スマートフォンアプリでの本人確認", "Identity check in the smartphone app")
    if not form.ok:
        return page.render("kiosk/app.html", status=422, title=title, targets=TARGETS,
                           errors=form.errors, values=form.values())
    st = _state(request)

    def run():
        ctx = st.counter()
        card = card_record(ctx, number)
        face = card_photo_token(card["card_number"]) if face_ok else "face-not-the-holder"
        with card_in_reader(ctx, card) as transport:
            return prepare_pin_reset(ctx, transport, target, other, now=st.now(),
                                     live_face=face)
    outcome, problem = await attempt(run)
    if problem:
        if problem[0] == 404:
            form.error("card_number", "このカード番号のカードはありません。",
                       "There is no card with this number.")
            return page.render("kiosk/app.html", status=404, title=title, targets=TARGETS,
                               errors=form.errors, values=form.values())
        return page.error(*problem, back="/kiosk/app")
    if isinstance(outcome, Refused):
        return page.render("kiosk/app.html", status=409, title=title, targets=TARGETS,
                           values=form.values(), decision=outcome)
    return page.render("kiosk/done.html", title=title, outcome=outcome.to_dict(),
                       next_url="/kiosk/pin-reset")


# --- the kiosk's step (R6.2–R6.5) ------------------------------------------------------------------

@router.get("/kiosk/pin-reset")
async def reset_form(request: Request) -> Response:
    page = _page(request)
    return page.render("kiosk/reset.html", title=("暗証番号の再設定", "PIN reset"),
                       targets=TARGETS, values={"target": "sign"})


@router.post("/kiosk/pin-reset")
async def reset_submit(request: Request) -> Response:
    from openjpki.services.kiosk import kiosk_reset_pin
    from openjpki.web.pages.cards import card_in_reader, card_record

    page = _page(request)
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    refused = _production(request, page)
    if refused:
        return refused
    form = Form(data)
    number = _card_number(form)
    target = form.choice("target", [v for v, _ in TARGETS])
    other = form.pin("other_pin", "auth" if target == "sign" else "sign", check_form=False)
    new = form.pin("new_pin", target) if target else None
    form.same("new_pin", "new_pin2", new)
    title = ("暗証番号の再設定", "PIN reset")
    if not form.ok:
        return page.render("kiosk/reset.html", status=422, title=title, targets=TARGETS,
                           errors=form.errors, values=form.values())
    st = _state(request)

    def run():
        ctx = st.counter()
        card = card_record(ctx, number)
        with card_in_reader(ctx, card) as transport:
            return kiosk_reset_pin(ctx, transport, target, other, new, now=st.now())
    outcome, problem = await attempt(run)
    if problem:
        if problem[0] == 404:
            form.error("card_number", "このカード番号のカードはありません。",
                       "There is no card with this number.")
            return page.render("kiosk/reset.html", status=404, title=title, targets=TARGETS,
                               errors=form.errors, values=form.values())
        return page.error(*problem, back="/kiosk/pin-reset")
    if isinstance(outcome, Refused):
        return page.render("kiosk/reset.html", status=409, title=title, targets=TARGETS,
                           values=form.values(), decision=outcome)
    return page.render("kiosk/done.html", title=title, outcome=outcome.to_dict(),
                       next_url="/kiosk")


# --- convenience-store issuance (R7) ---------------------------------------------------------------

@router.get("/kiosk/konbini")
async def konbini_form(request: Request) -> Response:
    page = _page(request)
    return page.render("kiosk/konbini.html", title=("コンビニ交付（住民票の写し）",
                                                   "Convenience-store issuance"))


@router.post("/kiosk/konbini")
async def konbini_submit(request: Request) -> Response:
    from openjpki.services.konbini import issue_residence_certificate
    from openjpki.web.pages.cards import card_in_reader, card_record

    page = _page(request)
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    refused = _production(request, page)
    if refused:
        return refused
    form = Form(data)
    number = _card_number(form)
    pin = form.pin("auth_pin", "auth", check_form=False)
    title = ("コンビニ交付（住民票の写し）", "Convenience-store issuance")
    if not form.ok:
        return page.render("kiosk/konbini.html", status=422, title=title, errors=form.errors,
                           values=form.values())
    st = _state(request)
    out_dir = _konbini_dir(st)

    def run():
        ctx = st.counter()
        card = card_record(ctx, number)
        with card_in_reader(ctx, card) as transport:
            return issue_residence_certificate(ctx, transport, pin, now=st.now(),
                                               out_dir=out_dir)
    outcome, problem = await attempt(run)
    if problem:
        if problem[0] == 404:
            form.error("card_number", "このカード番号のカードはありません。",
                       "There is no card with this number.")
            return page.render("kiosk/konbini.html", status=404, title=title,
                               errors=form.errors, values=form.values())
        return page.error(*problem, back="/kiosk/konbini")
    if isinstance(outcome, Refused):
        return page.render("kiosk/konbini.html", status=409, title=title,
                           values=form.values(), decision=outcome)
    refs = [r for r in (page.session.get("konbini") or []) if isinstance(r, str)]
    page.session.set("konbini", (refs + [outcome.reference])[-MAX_REFERENCES:])
    body = outcome.to_dict()
    body.pop("path", None)  # the server's file system is nobody's business
    return page.render("kiosk/done.html", title=title, outcome=body, next_url="/kiosk",
                       pdf=f"/kiosk/konbini/{outcome.reference}.pdf")


def _konbini_dir(st) -> Path:
    return st.web.settings.home / "konbini"


@router.get("/kiosk/konbini/{name}")
async def konbini_pdf(request: Request, name: str) -> Response:
    """The printed document, for the session that printed it only."""
    page = _page(request)
    reference = name[:-4] if name.endswith(".pdf") else ""
    refs = page.session.get("konbini") or []
    st = _state(request)
    path = _konbini_dir(st) / f"{reference}.pdf"
    if not reference or reference not in refs or not reference.replace("-", "").isalnum() \
            or not path.is_file():
        return page.error(404, ("この書類はありません。", "There is no such document."))
    return page.finish(FileResponse(path, media_type="application/pdf",
                                    filename=f"{reference}.pdf"))

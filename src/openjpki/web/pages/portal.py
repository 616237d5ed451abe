"""The holder's portal (R8.1): log in with the card, see both certificates — validity, status
(good, revoked, hold), the facts SIGN carries (R1.2) — and each PIN's tries left (R1.4), and
change a PIN (R1.7).

Log-in (**Decision**): challenge and response with the card's AUTH key, as a relying party
does it. The page shows a fresh challenge (32 random bytes as text, valid 5 minutes, used
once: the server keeps it and the first answer uses it up, bound to the session that
asked for it — a replayed cookie finds it used) and offers it as ``challenge.txt``; the holder signs it with the card in their reader,

    openjpki client sign --key auth --pin 1234 challenge.txt --json

and pastes the JSON it prints (``{"signature", "certificate"}``). The server checks the
signature with the certificate, that the certificate is the AUTH certificate the authority
issued (byte for byte, from the store), good and within its validity, and finds the card
it was written to. The server never sees the PIN. In the sandbox the page also offers "the
card in this computer's reader": the server signs the challenge through the holder client
on the card (:mod:`.cards`) with the AUTH PIN typed — the same check follows.

The PIN change talks to the card the same way (the card checks the current PIN and the new
PIN's form; the rules check the form first so the message is the rule's, R1.3).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any, Optional

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openjpki.services import challenges
from openjpki.web.pages.core import Page, attempt
from openjpki.web.pages.forms import Form
from openjpki.web.pages.portal_login import (
    MAX_ANSWER, LoginFailed, parse_answer, sign_with_reader, verify_login,
)

router = APIRouter(include_in_schema=False)
CHALLENGE_TTL = 300
CHALLENGE_PREFIX = "openjpki-portal-login:"
PURPOSE = "portal"
log = logging.getLogger("openjpki.web.pages")
KINDS = [("sign", ("署名用電子証明書の暗証番号", "the SIGN PIN")),
         ("auth", ("利用者証明用電子証明書の暗証番号", "the AUTH PIN"))]


def _page(request: Request) -> Page:
    page = Page.of(request)
    page.extra["area"] = "portal"
    return page


def _state(request: Request):
    return request.app.state.openjpki_pages


def _challenge(page: Page, *, fresh: bool = False) -> str:
    """The challenge the page shows: kept by the server (single use, bound to this session
    by its CSRF token, :mod:`openjpki.services.challenges`); the cookie names it only."""
    c = page.session.get("challenge")
    if (fresh or not isinstance(c, dict) or not isinstance(c.get("at"), int)
            or not isinstance(c.get("id"), str) or not isinstance(c.get("text"), str)
            or time.time() - c["at"] > CHALLENGE_TTL - 30):
        text = CHALLENGE_PREFIX + secrets.token_urlsafe(32)
        c = {"id": "", "text": text, "at": int(time.time())}
        try:
            st = page.request.app.state.openjpki_pages
            c["id"], c["text"] = challenges.issue(
                st.store, PURPOSE, page.session.csrf_token,
                ttl=timedelta(seconds=CHALLENGE_TTL), now=st.real_now(),
                prefix=CHALLENGE_PREFIX)
        except Exception:  # noqa: BLE001 — no store yet: shown, but no answer will log in
            log.warning("portal: no challenge could be kept", exc_info=True)
        page.session.set("challenge", c)
    return c["text"]


def _take_challenge(page: Page) -> Optional[bytes]:
    """The session's challenge, used up here and now on the server (None when it was used
    before — a replayed cookie — expired, or is another session's)."""
    c = page.session.pop("challenge")
    if not isinstance(c, dict) or not isinstance(c.get("id"), str):
        return None
    st = page.request.app.state.openjpki_pages
    text = challenges.consume(st.store, PURPOSE, c["id"], page.session.csrf_token,
                              now=st.real_now())
    return text.encode("ascii") if text is not None else None


# --- pages -----------------------------------------------------------------------------------

def _login_page(page: Page, status: int = 200, **extra: Any) -> Response:
    return page.render("portal/login.html", status=status,
                       title=("利用者ポータル ログイン", "Holder portal log-in"),
                       challenge=_challenge(page, fresh=status != 200), **extra)


@router.get("/portal")
async def portal(request: Request) -> Response:
    page = _page(request)
    holder = page.session.holder()
    if holder is None:
        return _login_page(page)
    st = _state(request)
    data, problem = await attempt(lambda: holder_view(st.counter(), holder, st.now()))
    if problem:
        if problem[0] == 404:
            page.session.log_out_holder()
            return _login_page(page)
        return page.error(*problem)
    return page.render("portal/home.html", title=("利用者ポータル", "Holder portal"), **data)


@router.get("/portal/challenge.txt")
async def challenge_file(request: Request) -> Response:
    from starlette.responses import PlainTextResponse

    page = _page(request)
    text = _challenge(page)
    return page.finish(PlainTextResponse(text, headers={
        "Content-Disposition": 'attachment; filename="challenge.txt"'}))


@router.post("/portal/login")
async def login(request: Request) -> Response:
    page = _page(request)
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    form = Form(data)
    challenge = _take_challenge(page)
    if challenge is None:
        return _login_page(page, 400, problem=(
            "チャレンジの有効期限が切れました。新しいチャレンジに署名してください。",
            "The challenge has expired; sign the new one."))
    st = _state(request)
    method = form.raw("method") or "paste"
    answer, signature, certificate = (form.raw("answer"), form.raw("signature"),
                                      form.raw("certificate"))
    number = pin = None
    if method == "reader":
        from openjpki.web.pages.cards import PRODUCTION_REFUSAL, server_reader_allowed

        if not server_reader_allowed(request.app.state, st.web.settings):
            return page.error(403, PRODUCTION_REFUSAL, title=("サンドボックス専用", "Sandbox only"))
        number = form.text("card_number", max_len=40)
        pin = form.pin("auth_pin", "auth", check_form=False)
    elif len(answer) + len(signature) + len(certificate) > MAX_ANSWER:
        form.error("answer", "貼り付けた内容が長すぎます。", "What was pasted is too long.")
    if not form.ok:
        return _login_page(page, 422, errors=form.errors, values=form.values())

    def run():
        ctx = st.counter()
        if method == "reader":
            sig, der = sign_with_reader(ctx, number, pin, challenge)
        else:
            sig, der = parse_answer(answer, signature, certificate)
        return verify_login(ctx, challenge, sig, der, st.now())
    try:
        who, problem = await attempt(run)
    except LoginFailed as e:
        field = "answer" if answer.strip() and e.field in ("signature", "certificate") \
            else e.field
        form.error(field, *e.message)
        return _login_page(page, 401, errors=form.errors, values=form.values())
    if problem:
        if problem[0] == 404 and method == "reader":
            form.error("card_number", "このカード番号のカードはありません。",
                       "There is no card with this number.")
            return _login_page(page, 404, errors=form.errors, values=form.values())
        return page.error(*problem, back="/portal")
    page.session.log_in_holder(card_id=who["card_id"], resident_id=who["resident_id"],
                               serial=who["serial"])
    return page.redirect("/portal")


@router.post("/portal/logout")
async def logout(request: Request) -> Response:
    page = _page(request)
    refused = page.csrf_refused(await page.form())
    if refused:
        return refused
    page.session.log_out_holder()
    page.session.pop("challenge")
    return page.redirect("/portal")


def holder_view(ctx, holder: dict, now: datetime) -> dict:
    """The logged-in holder's card: certificates with status and validity, SIGN's facts,
    tries left of each PIN."""
    from openjpki.pki import read_sign_facts
    from openjpki.rules import to_jst
    from openjpki.services.counter import show_resident
    from openjpki.web.pages.cards import pin_status

    resident = show_resident(ctx, holder["resident"])
    card = next((c for c in resident["cards"] if c["id"] == holder["card"]), None)
    if card is None:
        from openjpki.services.counter.residents import NotFound
        raise NotFound("the card of this log-in is gone")
    today = to_jst(now).date()
    certs = []
    for c in card["certificates"]:
        if not c["current"]:
            continue
        rec = ctx.authority.get(c["serial"])
        facts = None
        if c["kind"] == "sign":
            try:
                f = read_sign_facts(rec.certificate)
                facts = {"name": f.name, "address": f.address,
                         "birth_date": f.birth_date.isoformat() if f.birth_date else "",
                         "sex": f.sex}
            except ValueError:
                facts = None
        from datetime import date as _date
        not_after = _date.fromisoformat(c["not_after"])
        certs.append({**c, "not_before": to_jst(rec.not_before).date().isoformat(),
                      "days_left": (not_after - today).days, "facts": facts, "pem": rec.pem})
    certs.sort(key=lambda c: c["kind"] != "sign")  # SIGN first, as the card lists them
    try:
        pins = pin_status(ctx, card)
    except Exception:  # noqa: BLE001 — the card's state cannot be read: tries unknown
        pins = {}
    return {"resident": resident, "card": card, "certs": certs, "pins": pins,
            "kinds": KINDS}


@router.get("/portal/pin-change")
async def pin_form(request: Request) -> Response:
    page = _page(request)
    if page.session.holder() is None:
        return page.redirect("/portal")
    return page.render("portal/pin.html", title=("暗証番号の変更", "Change a PIN"), kinds=KINDS,
                       values={"kind": "auth"})


@router.post("/portal/pin-change")
async def pin_change(request: Request) -> Response:
    from openjpki.card import JpkiClient, PinBlocked, PinFormRefused, WrongPin
    from openjpki.web.pages.cards import card_in_reader

    page = _page(request)
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    holder = page.session.holder()
    if holder is None:
        return page.redirect("/portal")
    from openjpki.web.pages.cards import PRODUCTION_REFUSAL, server_reader_allowed

    if not server_reader_allowed(request.app.state, _state(request).web.settings):
        return page.error(403, PRODUCTION_REFUSAL, title=("サンドボックス専用", "Sandbox only"))
    form = Form(data)
    kind = form.choice("kind", [k for k, _ in KINDS])
    current = form.pin("current_pin", kind or "auth", check_form=False)
    new = form.pin("new_pin", kind) if kind else None
    form.same("new_pin", "new_pin2", new)
    title = ("暗証番号の変更", "Change a PIN")
    if not form.ok:
        return page.render("portal/pin.html", status=422, title=title, kinds=KINDS,
                           errors=form.errors, values=form.values())
    st = _state(request)

    def run():
        from openjpki.services.counter import show_resident

        ctx = st.counter()
        resident = show_resident(ctx, holder["resident"])
        card = next((c for c in resident["cards"] if c["id"] == holder["card"]), None)
        if card is None or card["state"] != "active":
            from openjpki.services.counter.residents import InputError
            raise InputError("this card is not active")
        with card_in_reader(ctx, card) as transport:
            client = JpkiClient(transport)
            client.select_jpki()
            try:
                client.change_pin(kind, current, new)
            except (WrongPin, PinBlocked) as e:
                return ("current_pin", e.message_ja, e.message_en)
            except PinFormRefused as e:
                return ("new_pin", e.message_ja, e.message_en)
            finally:
                try:
                    client.logout()  # the card forgets the verified PIN
                except Exception:  # noqa: BLE001
                    pass
        return None
    outcome, problem = await attempt(run)
    if problem:
        return page.error(*problem, back="/portal/pin-change")
    if outcome is not None:
        form.error(outcome[0], outcome[1], outcome[2])
        return page.render("portal/pin.html", status=409, title=title, kinds=KINDS,
                           errors=form.errors, values=form.values())
    return page.render("portal/pin_done.html", title=title, kind=kind)

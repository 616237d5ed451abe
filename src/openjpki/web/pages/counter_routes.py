"""The counter's pages (窓口): sign-in, resident search, the resident page (cards and
certificates, the proxy's inquiry forms, deferred work, offers), the audit trail, the
deferred queue (R5.9) and, for a supervisor, clerk accounts.

The procedures' forms are in :mod:`.counter_procedures`, register events and new
residents in :mod:`.counter_register`.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openjpki.web.pages.auth import clerk_page, forbidden, safe_next
from openjpki.web.pages.core import Page, call, service_error
from openjpki.web.pages.forms import Form

router = APIRouter(include_in_schema=False)
ROLES = [("clerk", ("職員", "clerk")), ("supervisor", ("監督者", "supervisor"))]


def parse_id(value: str) -> int | None:
    ok = value.isascii() and value.isdigit() and 0 < len(value) <= 9
    return int(value) if ok and int(value) > 0 else None


def not_found(page: Page) -> Response:
    return page.error(404, ("該当する住民が見つかりません。", "No such resident."))


def _state(request: Request):
    return request.app.state.openjpki_pages


# --- sign-in ------------------------------------------------------------------------------------

@router.get("/counter/login")
async def login_form(request: Request) -> Response:
    page = Page.of(request)
    page.extra["area"] = "counter"
    return page.render("counter/login.html", title=("職員ログイン", "Clerk sign-in"),
                       next=safe_next(request.query_params.get("next")))


@router.post("/counter/login")
async def login(request: Request) -> Response:
    from openjpki.services.clerks import SignInRefused, sign_in

    page = Page.of(request)
    page.extra["area"] = "counter"
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    form = Form(data)
    name = form.text("name", max_len=64)
    password = form.raw("password")
    if not password:
        form.error("password", "パスワードを入力してください。", "Enter the password.")
    target = safe_next(form.raw("next"))
    if not form.ok:
        return page.render("counter/login.html", status=422, title=("職員ログイン", "Clerk sign-in"),
                           errors=form.errors, values=form.values(), next=target)
    st = _state(request)
    address = request.client.host if request.client is not None else None
    result, error = await call(page, lambda: sign_in(st.store, name or "", password,
                                                     now=st.real_now(), address=address))
    if error:
        return error
    if isinstance(result, SignInRefused):
        return page.render("counter/login.html", status=401, title=("職員ログイン", "Clerk sign-in"),
                           errors={"password": (result.message_ja, result.message_en)},
                           values=form.values(), next=target)
    page.session.sign_in_clerk(result.id, result.session_epoch)
    return page.redirect(target)


@router.post("/counter/logout")
async def logout(request: Request) -> Response:
    from openjpki.services.clerks import sign_out

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    refused = page.csrf_refused(await page.form())
    if refused:
        return refused
    st = _state(request)
    clerk_id = page.clerk.id
    _, error = await call(page, lambda: sign_out(st.store, clerk_id, now=st.now()))
    page.session.sign_out_clerk()
    page.clerk = None
    return error or page.redirect("/counter/login")


# --- search and the resident ---------------------------------------------------------------------

@router.get("/counter")
async def home(request: Request) -> Response:
    from openjpki.services.counter import find_residents

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    q = request.query_params.get("q", "").strip()
    errors = {}
    if len(q) > 100 or any(ord(c) < 0x20 for c in q):
        errors["q"] = ("100文字以内の氏名の一部を入力してください。",
                       "Enter part of a name (at most 100 characters).")
        q = ""
    st = _state(request)
    results, error = await call(page, lambda: find_residents(
        st.counter(), name=q or None, limit=200))
    if error:
        return error
    return page.render("counter/home.html", title=("住民検索", "Resident search"),
                       results=results, q=q, errors=errors, values={"q": q})


@router.get("/counter/residents")
async def residents_redirect(request: Request) -> Response:
    page = Page.of(request)
    q = request.query_params.get("q", "")
    from urllib.parse import urlencode
    return page.redirect("/counter?" + urlencode({"q": q[:100]}) if q else "/counter")


@router.get("/counter/residents/{rid}")
async def resident(request: Request, rid: str) -> Response:
    from openjpki.web.pages.views import resident_page_data

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    resident_id = parse_id(rid)
    if resident_id is None:
        return not_found(page)
    st = _state(request)
    data, error = await call(page, lambda: resident_page_data(st.counter(), resident_id))
    if error:
        return error
    from openjpki.rules.documents import Procedure
    from openjpki.web.pages.counter_register import EVENT_LINKS

    r = data["resident"]
    return page.render("counter/resident.html", title=(f"{r['name']}さん", r["name"]),
                       procedures=list(Procedure), events=EVENT_LINKS, **data)


@router.get("/counter/residents/{rid}/audit")
async def resident_audit(request: Request, rid: str) -> Response:
    from openjpki.web.pages.views import resident_page_data

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    resident_id = parse_id(rid)
    if resident_id is None:
        return not_found(page)
    st = _state(request)
    data, error = await call(page, lambda: resident_page_data(st.counter(), resident_id))
    if error:
        return error
    return page.render("counter/audit.html", title=("監査記録", "Audit trail"), **data)


@router.get("/counter/letters/{name}")
async def letter_pdf(request: Request, name: str) -> Response:
    """A mailed letter printed again (R5.4's inquiry form, R3.4's notice)."""
    from starlette.responses import Response as Raw

    from openjpki.services.letters_print import letter_pdf as render

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    letter_id = parse_id(name.removesuffix(".pdf")) if name.endswith(".pdf") else None
    if letter_id is None:
        return page.error(404, ("該当する郵送物が見つかりません。", "No such letter."))
    st = _state(request)
    result, error = await call(page, lambda: render(st.counter(page.clerk.actor), letter_id,
                                                    st.now()))
    if error:
        return error
    filename, data = result
    return page.finish(Raw(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"'}))


@router.get("/counter/reports/fees")
async def fee_report(request: Request) -> Response:
    """The day's fees (R3.6): every receipt line and the totals per office."""
    from datetime import date

    from openjpki.rules import to_jst
    from openjpki.services.counter.fees import day_report

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    st = _state(request)
    errors = {}
    raw = request.query_params.get("on", "")
    try:
        day = date.fromisoformat(raw) if raw else to_jst(st.now()).date()
    except ValueError:
        errors["on"] = ("日付を「年-月-日」で入力してください。", "Enter the date as YYYY-MM-DD.")
        day = to_jst(st.now()).date()
    report, error = await call(page, lambda: day_report(st.counter(), day))
    if error:
        return error
    offices = {}
    calendar = st.counter().calendar
    if calendar is not None:
        offices = {k: (o.name_ja, o.name_en) for k, o in calendar.offices.items()}
    return page.render("counter/fees.html", title=("手数料の日計", "Fees of the day"),
                       report=report, office_names=offices, errors=errors,
                       values={"on": day.isoformat()})


# --- deferred work (R5.9) --------------------------------------------------------------------------

STATES = ("queued", "running", "done", "refused", "failed")


@router.get("/counter/deferred")
async def deferred(request: Request) -> Response:
    from openjpki.services.deferred import list_items, queue_counts

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    state = request.query_params.get("state") or None
    if state is not None and state not in STATES:
        state = None
    st = _state(request)

    def read():
        ctx = st.counter()
        reason = st.health.unavailable_reason()
        return list_items(ctx, state=state, limit=200), queue_counts(ctx), reason
    result, error = await call(page, read)
    if error:
        return error
    items, counts, reason = result
    return page.render("counter/deferred.html", title=("保留中の処理", "Deferred work"),
                       items=items, counts=counts, state=state, states=STATES,
                       unavailable=reason)


@router.post("/counter/deferred/{item}/requeue")
async def requeue(request: Request, item: str) -> Response:
    from openjpki.services.clerks import may
    from openjpki.services.deferred import requeue as do_requeue

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    refused = page.csrf_refused(await page.form())
    if refused:
        return refused
    if not may(page.clerk, "requeue_deferred"):
        return forbidden(page, ("保留処理の再実行", "Requeueing deferred work"))
    item_id = parse_id(item)
    if item_id is None:
        return page.error(404, ("該当する処理が見つかりません。", "No such item."))
    st = _state(request)
    _, error = await call(page, lambda: do_requeue(st.counter(page.clerk.actor), item_id,
                                                   now=st.now()))
    return error or page.redirect("/counter/deferred")


# --- clerk accounts (supervisor) -----------------------------------------------------------------

@router.get("/counter/clerks")
async def clerks(request: Request) -> Response:
    from openjpki.services.clerks import list_clerks, may

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    if not may(page.clerk, "manage_clerks"):
        return forbidden(page, ("職員アカウントの管理", "Managing clerk accounts"))
    st = _state(request)
    views, error = await call(page, lambda: list_clerks(st.store))
    if error:
        return error
    return page.render("counter/clerks.html", title=("職員アカウント", "Clerk accounts"),
                       clerks=views, roles=ROLES)


@router.post("/counter/clerks")
async def add_clerk(request: Request) -> Response:
    from openjpki.services.clerks import ClerkError, add_clerk as do_add, list_clerks, may

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    if not may(page.clerk, "manage_clerks"):
        return forbidden(page, ("職員アカウントの管理", "Managing clerk accounts"))
    form = Form(data)
    name = form.text("name", max_len=64)
    display = form.text("display_name", required=False)
    role = form.choice("role", [r for r, _ in ROLES])
    password = form.raw("password")
    form.same("password", "password2", password)
    st = _state(request)
    if form.ok:
        try:
            await run_in_threadpool(lambda: do_add(
                st.store, name or "", password, role=role or "clerk", display_name=display,
                now=st.now(), actor=page.clerk.actor))
        except ClerkError as e:
            form.error(e.field, e.message_ja, e.message_en)
        except Exception as e:  # noqa: BLE001
            mapped = service_error(e)
            if mapped is None:
                raise
            return page.error(*mapped)
        if form.ok:
            return page.redirect("/counter/clerks")
    views, error = await call(page, lambda: list_clerks(st.store))
    if error:
        return error
    return page.render("counter/clerks.html", status=422, title=("職員アカウント", "Clerk accounts"),
                       clerks=views, roles=ROLES, errors=form.errors, values=form.values())


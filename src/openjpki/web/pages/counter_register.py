"""Register pages of the counter: entering a new resident, and the register events (異動)
— 転居, 転入, a change of name, corrections of the date of birth or sex — which revoke SIGN
in the same transaction (R4.1) and leave AUTH alone (R4.2); and the change of particulars
(記載事項変更) that brings the card face up to date (R5.2). The answer page offers the SIGN
re-issue in the same visit (R4.5).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openjpki import labels
from openjpki.web.pages.auth import clerk_page
from openjpki.web.pages.core import attempt, call
from openjpki.web.pages.counter_routes import not_found, parse_id
from openjpki.web.pages.forms import Form

router = APIRouter(include_in_schema=False)

SEXES = [("male", ("男", "male")), ("female", ("女", "female")),
         ("unknown", ("不明", "unknown"))]
RELATIONSHIPS = labels.options("relation", ("head", "spouse", "child", "parent", "other"))
EVENTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "move": (("転居（市内での住所変更）", "Move within the municipality (転居)"), ("R4.1", "R4.2")),
    "move_in": (("転入", "Move-in (転入)"), ("R4.1", "R4.2")),
    "name_change": (("氏名・旧氏・通称の変更", "Change of name, former surname or alias"),
                    ("R4.1", "R4.2")),
    "birth_date": (("生年月日の訂正", "Correction of the date of birth"), ("R4.1", "R4.2")),
    "sex": (("性別の訂正", "Correction of sex"), ("R4.1", "R4.2")),
    "card_particulars": (("カードの記載事項変更", "Change of particulars on the card"),
                         ("R5.2", "R5.2")),
    "stay_extension": (("在留期間の更新", "Extension of the period of stay"), ("R2.3", "R2.3")),
}
EVENT_LINKS = [(slug, label) for slug, (label, _) in EVENTS.items()]


# --- a new resident --------------------------------------------------------------------------------

@router.get("/counter/residents/new")
async def new_resident_form(request: Request) -> Response:
    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    return page.render("counter/resident_new.html", title=("住民登録", "Add a resident"),
                       sexes=SEXES, relationships=RELATIONSHIPS,
                       values={"relationship": "head"})


@router.post("/counter/residents/new")
async def new_resident(request: Request) -> Response:
    from openjpki.rules import to_jst
    from openjpki.services.counter import ResidentInput, add_resident

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    st = request.app.state.openjpki_pages
    today = to_jst(st.now()).date()
    form = Form(data)
    name = form.text("name", register=True)
    kana = form.text("name_kana", required=False, register=True)
    address = form.text("address", register=True)
    birth = form.date("birth_date", not_after=today)
    sex = form.choice("sex", [v for v, _ in SEXES])
    household = form.text("household_id", required=False, max_len=40)
    relationship = form.choice("relationship", [v for v, _ in RELATIONSHIPS], default="head")
    foreign = form.flag("foreign_resident")
    stay_until = form.date("stay_until", required=False)
    postal = _postal(form)
    if stay_until is not None and not foreign:
        form.error("stay_until", "在留期間は外国人住民の場合のみ入力します。",
                   "A period of stay is only for a foreign resident.")
    if not form.ok:
        return page.render("counter/resident_new.html", status=422,
                           title=("住民登録", "Add a resident"), sexes=SEXES,
                           relationships=RELATIONSHIPS, errors=form.errors, values=form.values())
    data_in = ResidentInput(name=name or "", name_kana=kana, address=address or "",
                            birth_date=birth, sex=sex or "unknown", household_id=household,
                            relationship=relationship or "head",
                            honseki_here=form.flag("honseki_here"),
                            adult_ward=form.flag("adult_ward"), foreign_resident=foreign,
                            stay_until=stay_until, postal_code=postal)
    result, error = await call(page, lambda: add_resident(st.counter(page.clerk.actor),
                                                          data_in, st.now()))
    if error:
        return error
    return page.redirect(f"/counter/residents/{result['id']}")


# --- register events -------------------------------------------------------------------------------

async def _event_page(request: Request, rid: str, slug: str):
    from openjpki.services.counter import show_resident

    page = await clerk_page(request)
    if isinstance(page, Response):
        return page
    resident_id = parse_id(rid)
    if resident_id is None:
        return not_found(page)
    if slug not in EVENTS:
        return page.error(404, ("その異動はありません。", "No such register event."))
    st = request.app.state.openjpki_pages
    resident, error = await call(page, lambda: show_resident(st.counter(), resident_id))
    if error:
        return error
    return page, resident


def _context(resident: dict, slug: str, **extra: Any) -> dict[str, Any]:
    label, rules = EVENTS[slug]
    ctx = {"title": label, "resident": resident, "event": slug, "event_label": label,
           "event_rules": rules, "sexes": SEXES, "relationships": RELATIONSHIPS,
           "action": f"/counter/residents/{resident['id']}/events/{slug}"}
    ctx.update(extra)
    return ctx


@router.get("/counter/residents/{rid}/events/{slug}")
async def event_form(request: Request, rid: str, slug: str) -> Response:
    loaded = await _event_page(request, rid, slug)
    if isinstance(loaded, Response):
        return loaded
    page, resident = loaded
    return page.render("counter/event.html", **_context(resident, slug))


@router.post("/counter/residents/{rid}/events/{slug}")
async def event_submit(request: Request, rid: str, slug: str) -> Response:
    from openjpki.rules import to_jst

    loaded = await _event_page(request, rid, slug)
    if isinstance(loaded, Response):
        return loaded
    page, resident = loaded
    data = await page.form()
    refused = page.csrf_refused(data)
    if refused:
        return refused
    st = request.app.state.openjpki_pages
    form = Form(data)
    run = _event_call(form, slug, resident["id"], to_jst(st.now()).date())
    if not form.ok or run is None:
        return page.render("counter/event.html", status=422,
                           **_context(resident, slug, errors=form.errors, values=form.values()))
    result, problem = await attempt(lambda: run(st.counter(page.clerk.actor), st.now()))
    if problem:
        status, message = problem
        if status == 400:  # "nothing changes" and the like: shown above the form
            return page.render("counter/event.html", status=400, **_context(
                resident, slug, values=form.values(), problem=message))
        return page.error(status, message)
    body = result if isinstance(result, dict) else result.to_dict()
    return page.render("counter/event_result.html", title=EVENTS[slug][0], resident=resident,
                       event=slug, event_label=EVENTS[slug][0], result=body)


def _postal(form: Form) -> Optional[str]:
    """郵便番号 (optional): 7 digits, with or without the hyphen."""
    from openjpki.services.counter.residents import InputError, parse_postal_code

    raw = form.raw("postal_code").strip()
    if not raw:
        return None
    try:
        return parse_postal_code(raw)
    except InputError:
        form.error("postal_code", "郵便番号は7桁の数字で入力してください（例：332-8601）。",
                   "A postal code is 7 digits (e.g. 332-8601).")
        return None


def _event_call(form: Form, slug: str, resident_id: int, today) -> Optional[Callable]:
    from openjpki.services import register

    if slug in ("move", "move_in"):
        address = form.text("address", register=True)
        household = form.text("household_id", required=False, max_len=40)
        relationship = form.choice("relationship", [v for v, _ in RELATIONSHIPS],
                                   required=False)
        if not form.ok:
            return None
        postal = _postal(form)
        if not form.ok:
            return None
        fn = register.move if slug == "move" else register.move_in
        return lambda ctx, now: fn(ctx, resident_id, address, now, household_id=household,
                                   relationship=relationship, postal_code=postal)
    if slug == "name_change":
        name = form.text("name", required=False, register=True)
        former = form.raw("former_surname").strip() if "former_surname" in form.data else None
        alias = form.raw("alias").strip() if "alias" in form.data else None
        for field, value in (("former_surname", former), ("alias", alias)):
            if value and (len(value) > 200 or any(ord(c) < 0x20 for c in value)):
                form.error(field, "200文字以内で入力してください。", "At most 200 characters.")
        if not form.ok:
            return None
        return lambda ctx, now: register.change_name(
            ctx, resident_id, now, name=name, former_surname=former, alias=alias)
    if slug == "birth_date":
        birth = form.date("birth_date", not_after=today)
        if not form.ok:
            return None
        return lambda ctx, now: register.correct_birth_date(ctx, resident_id, birth, now)
    if slug == "sex":
        sex = form.choice("sex", [v for v, _ in SEXES])
        if not form.ok:
            return None
        return lambda ctx, now: register.correct_sex(ctx, resident_id, sex, now)
    if slug == "stay_extension":
        until = form.date("stay_until")
        if until is not None and until < today:
            form.error("stay_until", "今日以降の日付を入力してください。",
                       "Enter a day from today on.")
        if not form.ok:
            return None
        from openjpki.services.register_stay import extend_stay
        return lambda ctx, now: extend_stay(ctx, resident_id, until, now)
    if slug == "card_particulars":
        return lambda ctx, now: register.change_card_particulars(ctx, resident_id, now)
    return None

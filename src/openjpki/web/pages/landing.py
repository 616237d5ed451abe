"""``/``: the landing page — what runs here (mode, municipality, the clock the server keeps),
where to go (the counter, the kiosk, the holder portal, the API's documentation), what a
relying party trusts (the roots of both authorities and their CRLs, the OCSP responder), and
in a sandbox its state (residents, clerks, faults) with the next command to run."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from openjpki.web.pages.core import Page, call, sandbox_mode

router = APIRouter(include_in_schema=False)


def landing_facts(st, sandbox: bool) -> dict:
    """What the landing page shows, read once."""
    from openjpki.services.clerks import list_clerks
    from openjpki.store.residents import Resident

    ctx = st.counter()
    with ctx.store.sessions() as s:
        residents = s.execute(select(func.count()).select_from(Resident)).scalar_one()
    clerks = len(list_clerks(ctx.store))
    roots = []
    for kind in ("sign", "auth"):
        try:
            cert = ctx.authority.root(kind)
        except Exception:  # noqa: BLE001 — not initialised yet: no root to show
            continue
        roots.append({"kind": kind, "subject": cert.subject.rfc4514_string(),
                      "not_after": cert.not_valid_after_utc.date()})
    faults = []
    if sandbox:
        try:
            from openjpki.services.sandbox_faults import fault_summary

            faults = [f for f in fault_summary(ctx.store).get("faults", []) if f]
        except Exception:  # noqa: BLE001 — no sandbox tables: nothing switched on
            faults = []
    m = ctx.municipality
    return {"residents": residents, "clerks": clerks, "roots": roots, "faults": faults,
            "municipality": f"{m.prefecture}{m.name}", "now": st.now()}


@router.get("/")
async def landing(request: Request) -> Response:
    page = Page.of(request)
    page.extra["area"] = "home"
    st = request.app.state.openjpki_pages
    sandbox = sandbox_mode(request)
    facts, error = await call(page, lambda: landing_facts(st, sandbox))
    if error:
        return error
    return page.render("landing.html", title=("公的個人認証サービス", "JPKI service"),
                       facts=facts, base=str(request.base_url).rstrip("/"))


@router.get("/roots/{kind}.pem")
async def root_pem(request: Request, kind: str) -> Response:
    """The root certificate of the SIGN or AUTH authority (PEM), for relying parties."""
    from cryptography.hazmat.primitives import serialization

    page = Page.of(request)
    page.extra["area"] = "home"
    if kind not in ("sign", "auth"):
        return page.error(404, ("その認証局はありません。", "No such authority."))
    st = request.app.state.openjpki_pages
    cert, error = await call(page, lambda: st.counter().authority.root(kind))
    if error:
        return error
    pem = cert.public_bytes(serialization.Encoding.PEM)
    return Response(pem, media_type="application/x-pem-file", headers={
        "Content-Disposition": f'inline; filename="{kind}-root.pem"',
        "X-Content-Type-Options": "nosniff"})

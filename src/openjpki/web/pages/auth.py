"""Clerk sign-in for the counter pages, and the role check.

A page of the counter calls :func:`clerk_page`: it answers the page context with the signed-in
clerk (read from the store at every request: a disabled account or an ended session is
signed out at once), or a redirect to the sign-in page. :func:`forbidden` is the 403 page
for an action kept for a supervisor (:func:`openjpki.services.clerks.needs_supervisor`).
"""

from __future__ import annotations

from typing import Optional, Union
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openjpki.web.pages.core import Page, service_error


def safe_next(target: Optional[str]) -> str:
    """Only a path of the counter (no scheme, host or //): no open redirect."""
    if target and target.startswith("/counter") and not target.startswith("//") \
            and "\\" not in target and len(target) < 500:
        return target
    return "/counter"


async def clerk_page(request: Request) -> Union[Page, Response]:
    page = Page.of(request)
    page.extra["area"] = "counter"
    ref = page.session.clerk_ref()
    if ref is not None:
        from openjpki.services.clerks import current_clerk

        state = request.app.state.openjpki_pages
        try:
            clerk = await run_in_threadpool(lambda: current_clerk(state.store, *ref))
        except Exception as e:  # noqa: BLE001
            mapped = service_error(e)
            if mapped is None:
                raise
            return page.error(*mapped)
        if clerk is not None:
            page.clerk = clerk
            return page
        page.session.sign_out_clerk()
    target = request.url.path
    if request.url.query and request.method == "GET":
        target += "?" + request.url.query
    return page.redirect("/counter/login?next=" + quote(safe_next(target), safe=""))


def forbidden(page: Page, what: tuple[str, str]) -> Response:
    return page.error(403, (f"{what[0]}は監督者のみが行えます。監督者に依頼してください。",
                            f"{what[1]} is kept for a supervisor; ask a supervisor."),
                      title=("権限がありません (403)", "Not allowed (403)"))

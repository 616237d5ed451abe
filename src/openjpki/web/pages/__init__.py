"""Server-rendered pages in the same FastAPI app: the counter clerk's (``/counter``), the
kiosk's (``/kiosk``) and the holder's (``/portal``), Japanese first with an English switch
(``?lang=en``, remembered in a cookie).

``install_pages(app)`` adds them (once) to an app made by :func:`openjpki.web.create_app`;
``pages_extension`` is the same for ``create_app(extensions=[...])``/``APP_EXTENSIONS``.

- Clerks sign in (:mod:`.auth`, accounts in :mod:`openjpki.services.clerks`, roles clerk and
  supervisor); the holder logs in to the portal with the card's AUTH key (:mod:`.portal`).
- Sessions are a signed cookie (:mod:`.session`: HttpOnly, SameSite=Lax, Secure over https);
  every POST carries the session's CSRF token in a hidden field, or gets a 403 page.
- Errors are pages: bad input beside its field, refusals with their rule, service errors
  with their message — on the pages' paths, unknown pages and methods answer an HTML page
  too (the rest of the app keeps its RFC 9457 problem responses).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"
PREFIXES = ("/counter", "/kiosk", "/portal", "/roots")


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/" or any(path == p or path.startswith(p + "/") for p in PREFIXES)


def install_pages(app: FastAPI) -> None:
    from openjpki.web.pages import counter_procedures, counter_register, counter_routes
    from openjpki.web.pages import kiosk, landing, portal
    from openjpki.web.pages.core import Page
    from openjpki.web.pages.state import PagesState

    if getattr(app.state, "openjpki_pages", None) is not None:
        return
    app.state.openjpki_pages = PagesState(app.state.openjpki, app.state)
    # Fixed paths before the ones with path parameters (/residents/new before /{rid}).
    app.include_router(counter_register.router)
    app.include_router(counter_routes.router)
    app.include_router(counter_procedures.router)
    app.include_router(kiosk.router)
    app.include_router(portal.router)
    app.include_router(landing.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    problem_http = app.exception_handlers.get(StarletteHTTPException)
    problem_any = app.exception_handlers.get(Exception)

    async def http_error(request: Request, exc: Exception):
        if not _is_page(request) or problem_http is None:
            if problem_http is None:
                raise exc
            return await problem_http(request, exc)
        assert isinstance(exc, StarletteHTTPException)
        page = Page.of(request)
        page.extra["area"] = request.url.path.strip("/").split("/")[0]
        if exc.status_code == 405:
            return page.error(405, ("この方法では操作できません。", "This method is not allowed here."))
        if exc.status_code == 404:
            return page.error(404, ("ページが見つかりません。", "There is no such page."))
        return page.error(exc.status_code, (str(exc.detail), str(exc.detail)))

    async def unexpected(request: Request, exc: Exception):
        if not _is_page(request) and problem_any is not None:
            return await problem_any(request, exc)
        import logging

        logging.getLogger("openjpki.web.pages").error(
            "unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        page = Page.of(request)
        page.extra["area"] = request.url.path.strip("/").split("/")[0]
        return page.error(500, ("予期しないエラーが発生しました。記録されています。",
                                "An unexpected error occurred; it has been logged."))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def pages_extension(app: FastAPI) -> None:
    """For ``create_app(extensions=[pages_extension])`` / ``APP_EXTENSIONS``."""
    install_pages(app)


__all__ = ["install_pages", "pages_extension"]

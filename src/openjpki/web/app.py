"""The FastAPI application: ``create_app(settings, clock=...)``.

Mounted here: the OCSP responder (answered before FastAPI's own entry, for speed), the CRLs,
``/healthz``, and problem responses (RFC 9457) for every error. Other parts add their routers by listing
a function in ``APP_EXTENSIONS`` (called with the app; the shared state is
``app.state.openjpki``, a :class:`~openjpki.web.context.WebContext`) or by passing
``extensions=`` to :func:`create_app`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Iterable, Optional

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from openjpki import __version__
from openjpki.config import Settings
from openjpki.private_home import set_private_umask
from openjpki.web import crl, health
from openjpki.web.body_limit import (
    DEFAULT_MAX_BODY, limit_body, load_max_body, refusal_for, streamed_or_over,
)
from openjpki.web.context import Clock, WebContext, utc_now
from openjpki.web.ocsp import IdleAwareHook, OcspEndpoint
from openjpki.web.pages import pages_extension
from openjpki.web.problems import install_problem_handlers
from openjpki.web.platform import platform_extension
from openjpki.web.rp import rp_extension

Extension = Callable[[FastAPI], None]
# /counter, /kiosk, /portal; the relying party's /api/rp/… and its sample page /rp/sample;
# the platform API /verify/… and /key/jwks.json
APP_EXTENSIONS: list[Extension] = [pages_extension, rp_extension, platform_extension]


class OpenJpkiApp(FastAPI):
    """FastAPI whose entry answers the OCSP paths first: FastAPI's own ``__call__`` and its
    middleware stack cost more than the cached answer itself (≈ 40 µs of ≈ 200 µs per request
    under uvicorn), and routing, dependencies and validation have nothing to do for OCSP."""

    ocsp: OcspEndpoint
    max_body: int = DEFAULT_MAX_BODY
    # (method, path) -> an ASGI app answering it without FastAPI's routing and middleware
    # (the platform API's calls: web.platform); such an app answers every error itself.
    direct_routes: dict[tuple[str, str], ASGIApp]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"].startswith("/ocsp"):
                if streamed_or_over(scope, self.max_body):  # the limit holds here too
                    await limit_body(self._ocsp_or_app, scope, receive, send, self.max_body)
                    return
                if await self.ocsp.handle(scope, receive, send):
                    return
            # Every other request: the body bounded before routing, tokens or parsing; a
            # path an extension answers directly (direct_routes) skips routing and middleware.
            direct = self.direct_routes.get((scope["method"], scope["path"]))
            await limit_body(direct or super().__call__, scope, receive, send, self.max_body,
                             refusal_for(self, scope["path"]))
            return
        await super().__call__(scope, receive, send)

    async def _ocsp_or_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.ocsp.handle(scope, receive, send):
            await super().__call__(scope, receive, send)


def create_app(settings: Optional[Settings] = None, clock: Optional[Clock] = None, *,
               sync_interval: float = 0.5, extensions: Iterable[Extension] = ()) -> FastAPI:
    """The app on the store of ``settings`` (default: the environment's). ``clock`` gives the
    current time (default the wall clock, UTC); ``sync_interval`` is how often, in seconds,
    status changes made by other processes are looked for."""
    settings = settings or Settings.resolve()
    ctx = WebContext(settings, clock or utc_now, sync_interval=sync_interval)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = OpenJpkiApp(title="OpenJPKI", version=__version__, lifespan=lifespan,
                      description="公的個人認証サービス (JPKI): OCSP, CRLs and the JSON API.")
    app.state.openjpki = ctx
    app.direct_routes = {}
    install_problem_handlers(app)
    app.ocsp = OcspEndpoint(ctx)
    app.max_body = ctx.max_body = load_max_body(settings.config_file)
    app.include_router(crl.router)
    app.include_router(health.router)
    for extend in (*APP_EXTENSIONS, *extensions):
        extend(app)
    _tell_when_sandbox_is_idle(app, ctx)
    return app


def _tell_when_sandbox_is_idle(app: FastAPI, ctx: WebContext) -> None:
    """The sandbox's OCSP hook (web.sandbox) lets the responder answer at once whenever no
    OCSP fault is switched on: say so, so that cached answers are served without awaiting
    it (``ocsp.answer_at_once``). Its clock (``ctx.clock``) reloads the faults."""
    sandbox = getattr(app.state, "openjpki_sandbox", None)
    live = getattr(sandbox, "live", None)
    if live is None or ctx.ocsp_hook != sandbox.ocsp_hook:
        return
    seen: list = [None, False]  # the last fault set looked at (an immutable snapshot)

    def idle() -> bool:
        faults = live.faults
        if faults is not seen[0]:
            seen[:] = [faults, not faults.ocsp_active]
        return seen[1]

    ctx.ocsp_hook = IdleAwareHook(sandbox.ocsp_hook, idle)


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` and worker processes: the home and database named by
    ``$OPENJPKI_HOME`` and ``$OPENJPKI_DATABASE_URL`` (``openjpki serve --workers`` sets them)."""
    set_private_umask()
    return create_app(Settings.resolve())

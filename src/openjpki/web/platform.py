"""The platform API on ``openjpki serve`` (a web extension: ``install(app)``).

    POST /verify/registration   SIGN certificate + the caller's nonce signed with it
    POST /verify/login          AUTH certificate + the caller's nonce signed with it
    POST /verify/replacement    the new SIGN certificate, after a login answered 410
    GET  /key/jwks.json         the keys to encrypt the certificate to (current first)

Every answer of the three calls, success or failure, is the contract's one JSON shape
(services.platform.answers) with one of the statuses of its table; the body is read here
as bytes (at most ``MAX_BODY``) and judged by the service, so malformed JSON or a missing
field is the contract's 400, not a validation problem response. The routes are not in the
app's own OpenAPI description (whose 4xx answers are problem responses); their description
is ``docs/platform-openapi.yaml``.

The answers given before a call is reached are in the same shape too: the server's body limit
(``web.body_limit``: a body over ``[http] max_body``, a bad ``Content-Length``, a JSON member
named twice) answers the paths under ``/verify/`` through :func:`_refusal`, a 400; another
method on a call's path is a 400, and a path under ``/verify/`` that names no call a 404 (the
table has no 405; a 404 is what the caller's client makes of a missing resource).
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from openjpki.services.authority import NotInitialised
from openjpki.services.platform import Call, PlatformError, PlatformService, RequestInfo, open_platform
from openjpki.services.platform.answers import failure
from openjpki.services.platform.requests import MAX_BODY, bad
from openjpki.services.sandbox_mode import resolve_mode
from openjpki.web.body_limit import refuse_in_own_shape

router = APIRouter(tags=["platform"], include_in_schema=False)
log = logging.getLogger("openjpki.platform")
_lock = threading.Lock()
NO_STORE = {"Cache-Control": "no-store"}
PREFIX = "/verify/"
CALLS = {f"{PREFIX}{call.value}": call for call in Call}
OTHER_METHODS = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _platform(app: FastAPI) -> PlatformService:
    platform = getattr(app.state, "platform", None)
    if platform is None:
        with _lock:
            platform = getattr(app.state, "platform", None)
            if platform is None:
                ctx = app.state.openjpki
                service = ctx.open()  # NotInitialised until init has run
                sandbox = getattr(app.state, "openjpki_sandbox", None)
                mode = sandbox.mode if sandbox is not None else resolve_mode(ctx.settings)
                live = getattr(sandbox, "live", None)
                faults = (lambda: live.faults) if live is not None else (lambda: None)
                platform = open_platform(service, ctx.settings.keys_dir, sandbox=mode.sandbox, faults=faults)
                app.state.platform = platform
    return platform


class _Gone(Exception):
    """The client went away before its body was whole."""


async def _body(receive: Receive) -> Optional[bytes]:
    """The body, or None when it is larger than MAX_BODY (read no further)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _answer(status: int, body: dict, headers: Optional[dict[str, str]] = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def _refuser(app: FastAPI):
    """The body limit's refusals of a platform path: the contract's 400 (its table has no
    413), ``Connection: close`` kept when the layer closes the connection."""
    def refuse(scope, status: int, title: str, detail: str, headers: Optional[dict[str, str]] = None,
               **_extensions) -> JSONResponse:
        now = app.state.openjpki.clock()
        return _answer(400, failure(RequestInfo(), now, bad(f"{title}: {detail}")), headers)
    return refuse


async def _call(app: FastAPI, call: Call, raw: Optional[bytes]) -> JSONResponse:
    now = app.state.openjpki.clock()
    if raw is None:
        return _answer(400, failure(RequestInfo(), now, bad(f"the body is larger than {MAX_BODY} bytes")))
    try:
        platform = _platform(app)
    except NotInitialised:
        return _answer(503, failure(RequestInfo(), now, PlatformError(503, "システム利用不可: not initialised")))
    except Exception:  # noqa: BLE001 — e.g. unreadable keys or store: the contract's 500, logged here
        log.exception("the platform service could not be opened")
        return _answer(500, failure(RequestInfo(), now, PlatformError(500, "システム異常 (internal error)")))
    answer = await run_in_threadpool(platform.handle, call, raw, now)
    return _answer(answer.status, answer.body)


def _direct(app: FastAPI, call: Call) -> ASGIApp:
    """The call as a bare ASGI app (``OpenJpkiApp.direct_routes``): FastAPI's routing and
    middleware cost more than reading the body and sending the answer, and have nothing to
    do here (the body is bounded, the answer made, every fault caught by the service)."""
    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            raw = await _body(receive)
        except _Gone:
            return
        response = await _call(app, call, raw)
        await response(scope, receive, send)
    return answer


async def _routed(call: Call, request: Request) -> JSONResponse:
    """The call through FastAPI's router (an app that is not an OpenJpkiApp)."""
    try:
        raw = await _body(request.receive)
    except _Gone:
        raw = b""
    return await _call(request.app, call, raw)


@router.post("/verify/registration")
async def registration(request: Request) -> JSONResponse:
    return await _routed(Call.REGISTRATION, request)


@router.post("/verify/login")
async def login(request: Request) -> JSONResponse:
    return await _routed(Call.LOGIN, request)


@router.post("/verify/replacement")
async def replacement(request: Request) -> JSONResponse:
    return await _routed(Call.REPLACEMENT, request)


@router.api_route(PREFIX + "{rest:path}", methods=["POST", *OTHER_METHODS])
async def elsewhere(request: Request, rest: str) -> JSONResponse:
    """What no call answers under /verify/: another method on a call's path (400, with the
    ``Allow`` header a 405 would carry), a path naming no call (404) — in the contract's shape."""
    now = request.app.state.openjpki.clock()
    if request.url.path in CALLS:
        error = bad(f"{request.method} is not a method of {request.url.path}: send a POST")
        return _answer(400, failure(RequestInfo(), now, error), {"Allow": "POST"})
    error = PlatformError(404, f"no call of the platform API is at {request.url.path}: "
                          f"the calls are {', '.join(sorted(CALLS))}", outcome="no-such-call")
    return _answer(404, failure(RequestInfo(), now, error))


@router.get("/key/jwks.json")
async def jwks(request: Request) -> JSONResponse:
    now = request.app.state.openjpki.clock()
    try:
        keys = _platform(request.app).jwks(now)
    except NotInitialised:
        keys = None
    if keys is None:
        return JSONResponse({"keys": []}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})


def install(app: FastAPI) -> None:
    app.include_router(router)
    refuse_in_own_shape(app, PREFIX, _refuser(app))
    direct = getattr(app, "direct_routes", None)
    if direct is not None:
        for path, call in CALLS.items():
            direct[("POST", path)] = _direct(app, call)


platform_extension = install

__all__ = ["install", "platform_extension", "router"]

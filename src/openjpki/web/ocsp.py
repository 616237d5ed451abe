"""``POST /ocsp`` and ``GET /ocsp/{base64}``: the OCSP responder over HTTP (RFC 6960
Appendix A, RFC 5019 §5–6).

No routing or validation layer: the hot path is a dict lookup of the request bytes and
cached DER with headers prepared once. Two entries share what is here:

* :class:`OcspEndpoint`, the ASGI side: ``create_app``'s app answers OCSP paths with it
  before FastAPI's own entry (see ``web.app``); any ASGI server reaches it;
* ``web.ocsp_front``, the HTTP front ``openjpki serve`` puts in front of uvicorn, which
  writes :func:`raw_response` straight to the connection when :func:`answer_at_once` has
  the answer, and awaits :func:`answer_for` otherwise.

Every answer is HTTP 200 ``application/ocsp-response``, errors included (malformedRequest
for anything that does not decode or parse, never a 500). GET and HEAD answers carry the
RFC 5019 caching headers (max-age up to nextUpdate, Last-Modified, Expires, ETag); answers
to requests with a nonce are marked no-cache. Other methods on these paths get 405 with
``Allow``.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import logging
import weakref
from collections import OrderedDict
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import lru_cache
from typing import Awaitable, Callable, Optional, Union

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from openjpki.services.authority import NotInitialised
from openjpki.services.authority_ocsp import INTERNAL_ERROR, MALFORMED, TRY_LATER, OcspAnswer
from openjpki.web.context import WebContext
from openjpki.web.problems import problem_response

OCSP_RESPONSE = b"application/ocsp-response"
MAX_REQUEST = 65_536
MALFORMED_ANSWER = OcspAnswer(MALFORMED, status="malformedRequest")
INTERNAL_ERROR_ANSWER = OcspAnswer(INTERNAL_ERROR, status="internalError")
log = logging.getLogger("openjpki.web")

_URL_SAFE = bytes.maketrans(b"-_", b"+/")
_PAD = (b"", b"", b"==", b"=")  # by length mod 4 (1 is never valid)


def decode_get_path(encoded: Union[str, bytes]) -> Optional[bytes]:
    """The request DER from a GET path segment: base64 standard or URL-safe alphabet,
    padding optional (the path arrives percent-decoded). None when it is not base64."""
    if isinstance(encoded, str):
        try:
            encoded = encoded.encode("ascii")
        except UnicodeEncodeError:
            return None
    text = encoded.strip().translate(_URL_SAFE).rstrip(b"=")
    if not text or len(text) > MAX_REQUEST * 2 or len(text) % 4 == 1:
        return None
    try:
        return binascii.a2b_base64(text + _PAD[len(text) % 4], strict_mode=True)
    except (binascii.Error, ValueError):
        return None


# --- the answer --------------------------------------------------------------------------------

OcspHook = Callable[[bytes, datetime], Awaitable[Optional[OcspAnswer]]]


class IdleAwareHook:
    """An OCSP hook (``WebContext.ocsp_hook``) with ``idle()``: True when awaiting it would
    answer None at once (e.g. no sandbox fault switched on). :func:`answer_at_once` then
    serves the cached answer without awaiting it; a hook without ``idle`` is always awaited."""

    def __init__(self, hook: OcspHook, idle: Callable[[], bool]) -> None:
        self.hook = hook
        self.idle = idle

    def __call__(self, body: bytes, now: datetime) -> Awaitable[Optional[OcspAnswer]]:
        return self.hook(body, now)


def answer_at_once(ctx: WebContext, body: Optional[bytes]) -> Optional[tuple[OcspAnswer, datetime]]:
    """The answer and its time when they need no waiting: a malformed request, or a fresh
    cached or (on SQLite) pre-produced answer while no fault hook wants to act and no sync
    with other processes is due.
    None: ask :func:`answer_for`."""
    now = ctx.clock()
    if body is None:
        return MALFORMED_ANSWER, now
    hook = ctx.ocsp_hook
    if hook is not None:
        idle = getattr(hook, "idle", None)
        if idle is None or not idle():
            return None
    responder = ctx.responder
    if responder is None or ctx.sync_due():
        return None
    answer = responder.cached(body, now)
    if answer is None and responder.inline:
        try:
            answer = responder.stored(body, now)  # pre-produced, one lookup in a local file
        except Exception:  # noqa: BLE001 — the store hiccups: answer_for tries again, and logs
            return None
    return None if answer is None else (answer, now)


async def answer_for(ctx: WebContext, body: Optional[bytes]) -> tuple[OcspAnswer, datetime]:
    """The answer to a request's DER (None: it did not decode), with the time it was made at:
    the sandbox fault hook first (``ctx.ocsp_hook``), then the cache after a sync when one is
    due (status changes of other processes), then the responder in a worker thread (it signs).
    Never raises: internalError, logged."""
    now = ctx.clock()
    if body is None:
        return MALFORMED_ANSWER, now
    try:
        answer = None
        if ctx.ocsp_hook is not None:  # sandbox faults (web.sandbox); None: answer as usual
            answer = await ctx.ocsp_hook(body, now)
        if answer is None and ctx.responder is not None:
            if ctx.sync_due():
                await _sync(ctx)
            answer = ctx.responder.cached(body, now)
        if answer is None:
            answer = await run_in_threadpool(_answer_blocking, ctx, body, now)
    except Exception:  # noqa: BLE001 — the client gets internalError, the log the details
        log.exception("OCSP answer failed")
        answer = INTERNAL_ERROR_ANSWER
    return answer, now


# The sync with other processes under way, per app: requests that find one due all await the
# same one (each starting its own would stall every connection at once, every interval).
_SYNCS: "weakref.WeakKeyDictionary[WebContext, asyncio.Future[None]]" = weakref.WeakKeyDictionary()


async def _sync(ctx: WebContext) -> None:
    loop = asyncio.get_running_loop()
    running = _SYNCS.get(ctx)
    if running is None or running.done() or running.get_loop() is not loop:
        running = _SYNCS[ctx] = asyncio.ensure_future(run_in_threadpool(ctx.sync))
    await asyncio.shield(running)


def _answer_blocking(ctx: WebContext, body: bytes, now: datetime) -> OcspAnswer:
    try:
        ctx.open()
        assert ctx.responder is not None
        return ctx.responder.respond(body, now)
    except NotInitialised:
        return OcspAnswer(TRY_LATER, status="tryLater")
    except Exception:  # noqa: BLE001 — the client gets internalError, the log the details
        log.exception("OCSP responder error")
        return INTERNAL_ERROR_ANSWER


# --- headers -----------------------------------------------------------------------------------


def http_date(moment: datetime) -> str:
    # format_datetime(usegmt=True) takes only UTC; the (sandbox) clock may be in Japan time.
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


@lru_cache(maxsize=4096)
def _http_date_bytes(moment: datetime) -> bytes:
    """The same, kept: pre-produced responses signed in one batch share their seconds."""
    return http_date(moment).encode()


Headers = tuple[tuple[bytes, bytes], ...]


def _raw(headers: Headers) -> bytes:
    return b"".join([b"%s: %s\r\n" % pair for pair in headers])


class _Prepared:
    """Everything of a cached answer's GET headers but max-age, as ASGI pairs and as bytes."""

    __slots__ = ("answer", "head", "validators", "raw_head", "raw_validators")

    def __init__(self, answer: OcspAnswer) -> None:
        self.answer = answer
        self.head: Headers = ((b"content-type", OCSP_RESPONSE),
                              (b"content-length", str(len(answer.der)).encode()))
        self.validators: Headers = (  # Last-Modified, Expires and ETag
            (b"last-modified", _http_date_bytes(answer.this_update)),  # type: ignore[arg-type]
            (b"expires", _http_date_bytes(answer.next_update)),  # type: ignore[arg-type]
            (b"etag", b'"' + hashlib.sha1(answer.der).hexdigest().encode() + b'"'),
        )
        self.raw_head = _raw(self.head)
        self.raw_validators = _raw(self.validators)


# Found by the answer's identity (the responder hands out the same object until it is
# renewed): the hot path then only writes the seconds left. Bounded (the oldest dropped
# first); about as many as the responder keeps answers (OcspResponder.max_entries).
_PREPARED: "OrderedDict[int, _Prepared]" = OrderedDict()
_PREPARED_MAX = 50_000
_MAX_AGE = b"max-age=%d, public, no-transform, must-revalidate"
_NO_CACHE = b"no-cache, no-store"


def _prepared(answer: OcspAnswer) -> _Prepared:
    hit = _PREPARED.get(id(answer))
    if hit is not None and hit.answer is answer:
        return hit
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.popitem(last=False)  # the oldest (a wide mix never empties it at once)
    hit = _PREPARED[id(answer)] = _Prepared(answer)
    return hit


def max_age_of(answer: OcspAnswer, now: datetime) -> int:
    """Seconds from ``now`` to the answer's nextUpdate (Cache-Control max-age, RFC 5019 §6.2)."""
    return max(0, int((answer.next_update - now).total_seconds()))  # type: ignore[operator]


def _headers(answer: OcspAnswer, now: datetime, http_get: bool) -> list[tuple[bytes, bytes]]:
    """The answer's headers as ASGI pairs (``http_get``: a GET or HEAD request)."""
    if http_get and answer.cacheable and answer.next_update is not None:
        p = _prepared(answer)
        return [*p.head, (b"cache-control", _MAX_AGE % max_age_of(answer, now)), *p.validators]
    headers = [(b"content-type", OCSP_RESPONSE), (b"content-length", str(len(answer.der)).encode())]
    if http_get:
        headers.append((b"cache-control", _NO_CACHE))
    return headers


def raw_headers(answer: OcspAnswer, now: datetime, http_get: bool) -> bytes:
    """The same headers as :func:`_headers`, each line ending in CRLF."""
    if http_get and answer.cacheable and answer.next_update is not None:
        p = _prepared(answer)
        return b"%scache-control: %s\r\n%s" % (p.raw_head, _MAX_AGE % max_age_of(answer, now), p.raw_validators)
    head = b"content-type: %s\r\ncontent-length: %d\r\n" % (OCSP_RESPONSE, len(answer.der))
    return head + b"cache-control: " + _NO_CACHE + b"\r\n" if http_get else head


# --- the ASGI side -----------------------------------------------------------------------------

ALLOW_POST = "POST"
ALLOW_GET = "GET, HEAD"


def allowed_methods(path: str) -> Optional[str]:
    """The methods ``path`` answers (``Allow``), or None when it is not an OCSP path."""
    if path == "/ocsp":
        return ALLOW_POST
    if path.startswith("/ocsp/"):
        return ALLOW_GET
    return None


class OcspEndpoint:
    """Answers ``POST /ocsp`` and ``GET``/``HEAD /ocsp/{base64}`` for an ASGI app; 405 for
    other methods on these paths."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer an OCSP request; False (nothing sent) for any other path."""
        path: str = scope["path"]
        allow = allowed_methods(path)
        if allow is None:
            return False
        method = scope["method"]
        if allow is ALLOW_POST and method == "POST":
            body = await _read_body(scope, receive)
            await self._answer(send, body, http_get=False, head=False)
        elif allow is ALLOW_GET and method in ("GET", "HEAD"):
            await self._answer(send, decode_get_path(path[6:]), http_get=True, head=method == "HEAD")
        else:
            response = problem_response(405, detail=f"{path} answers {allow}", instance=path,
                                        headers={"Allow": allow})
            await response(scope, receive, send)
        return True

    async def _answer(self, send: Send, body: Optional[bytes], http_get: bool, head: bool) -> None:
        got = answer_at_once(self.ctx, body)
        answer, now = got if got is not None else await answer_for(self.ctx, body)
        await send({"type": "http.response.start", "status": 200,
                    "headers": _headers(answer, now, http_get)})
        await send({"type": "http.response.body", "body": b"" if head else answer.der})


async def _read_body(scope: Scope, receive: Receive, limit: int = MAX_REQUEST) -> Optional[bytes]:
    """The request body, or None when it is larger than ``limit`` (not read further)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > limit):
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)

"""``POST /ocsp`` and ``GET /ocsp/{base64}``: the OCSP responder over HTTP (RFC 6960
Appendix A, RFC 5019 §5–6).

A small ASGI middleware in front of the app, no routing or validation layer: the hot path
is a dict lookup of the request bytes and two ASGI messages carrying cached DER. Every answer is HTTP 200 ``application/ocsp-response``,
errors included (malformedRequest for anything that does not decode or parse, never a 500).
GET answers carry the RFC 5019 caching headers (max-age up to nextUpdate, Last-Modified,
Expires, ETag); answers to requests with a nonce are marked no-cache.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
from datetime import datetime
from email.utils import format_datetime
from typing import Optional

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from openjpki.services.authority import NotInitialised
from openjpki.services.authority_ocsp import INTERNAL_ERROR, MALFORMED, TRY_LATER, OcspAnswer
from openjpki.web.context import WebContext

OCSP_RESPONSE = b"application/ocsp-response"
MAX_REQUEST = 65_536
log = logging.getLogger("openjpki.web")


def decode_get_path(encoded: str) -> Optional[bytes]:
    """The request DER from a GET path segment: base64 standard or URL-safe alphabet,
    padding optional (the path arrives percent-decoded). None when it is not base64."""
    text = encoded.strip().replace("-", "+").replace("_", "/").rstrip("=")
    if not text or len(text) > MAX_REQUEST * 2 or len(text) % 4 == 1:
        return None
    try:
        return binascii.a2b_base64(text + _PAD[len(text) % 4], strict_mode=True)
    except (binascii.Error, ValueError):
        return None


_PAD = ("", "", "==", "=")  # by length mod 4 (1 is never valid)


def _answer_blocking(ctx: WebContext, body: bytes, now: datetime) -> OcspAnswer:
    try:
        ctx.open()
        assert ctx.responder is not None
        return ctx.responder.respond(body, now)
    except NotInitialised:
        return OcspAnswer(TRY_LATER, status="tryLater")
    except Exception:  # noqa: BLE001 — the client gets internalError, the log the details
        log.exception("OCSP responder error")
        return OcspAnswer(INTERNAL_ERROR, status="internalError")


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _validator_headers(answer: OcspAnswer) -> tuple[tuple[bytes, bytes], ...]:
    """Last-Modified, Expires and ETag of a cached answer."""
    return (
        (b"last-modified", _http_date(answer.this_update).encode()),  # type: ignore[arg-type]
        (b"expires", _http_date(answer.next_update).encode()),  # type: ignore[arg-type]
        (b"etag", b'"' + hashlib.sha1(answer.der).hexdigest().encode() + b'"'),
    )


# Everything of a GET answer's headers but max-age, made once per cached answer and found by
# the answer's identity (the responder hands out the same object until it is renewed): the
# hot path then only writes the seconds left.  Bounded; dropped whole when full.
_PREPARED: dict[int, tuple[OcspAnswer, tuple[tuple[bytes, bytes], ...], tuple[tuple[bytes, bytes], ...]]] = {}
_PREPARED_MAX = 200_000
_MAX_AGE = b"max-age=%d, public, no-transform, must-revalidate"


def _prepared(answer: OcspAnswer) -> tuple[tuple[tuple[bytes, bytes], ...], tuple[tuple[bytes, bytes], ...]]:
    hit = _PREPARED.get(id(answer))
    if hit is not None and hit[0] is answer:
        return hit[1], hit[2]
    head = ((b"content-type", OCSP_RESPONSE), (b"content-length", str(len(answer.der)).encode()))
    validators = _validator_headers(answer)
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[id(answer)] = (answer, head, validators)
    return head, validators


def _headers(answer: OcspAnswer, now: datetime, http_get: bool) -> list[tuple[bytes, bytes]]:
    if http_get and answer.cacheable and answer.next_update is not None:
        head, validators = _prepared(answer)
        max_age = max(0, int((answer.next_update - now).total_seconds()))
        return [*head, (b"cache-control", _MAX_AGE % max_age), *validators]
    headers = [(b"content-type", OCSP_RESPONSE), (b"content-length", str(len(answer.der)).encode())]
    if http_get:
        headers.append((b"cache-control", b"no-cache, no-store"))
    return headers


class OcspMiddleware:
    """Answers ``POST /ocsp`` and ``GET /ocsp/{base64}`` before the rest of the app (routing,
    dependency injection and validation have nothing to do for OCSP); every other request
    goes on to the app."""

    def __init__(self, app: ASGIApp, ctx: WebContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            method = scope["method"]
            if path == "/ocsp" and method == "POST":
                body = await _read_body(scope, receive)
                return await self._answer(send, body, http_get=False)
            if path.startswith("/ocsp/") and method == "GET":
                return await self._answer(send, decode_get_path(path[6:]), http_get=True)
        await self.app(scope, receive, send)

    async def _answer(self, send: Send, body: Optional[bytes], http_get: bool) -> None:
        ctx = self.ctx
        now = ctx.clock()
        answer = None
        if body is None:
            answer = OcspAnswer(MALFORMED, status="malformedRequest")
        elif ctx.ocsp_hook is not None:  # sandbox faults (web.sandbox); None: answer as usual
            answer = await ctx.ocsp_hook(body, now)
        if answer is None and body is not None and ctx.responder is not None:
            if ctx.sync_due():
                await run_in_threadpool(ctx.sync)
            answer = ctx.responder.cached(body, now)
        if answer is None:
            answer = await run_in_threadpool(_answer_blocking, ctx, body, now)
        await send({"type": "http.response.start", "status": 200,
                    "headers": _headers(answer, now, http_get)})
        await send({"type": "http.response.body", "body": answer.der})


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

"""``POST /ocsp`` and ``GET /ocsp/{base64}``: the OCSP responder over HTTP (RFC 6960
Appendix A, RFC 5019 §5–6).

Plain Starlette endpoints, no validation layer: the hot path is a dict lookup of the request
bytes and a Response of cached DER. Every answer is HTTP 200 ``application/ocsp-response``,
errors included (malformedRequest for anything that does not decode or parse, never a 500).
GET answers carry the RFC 5019 caching headers (max-age up to nextUpdate, Last-Modified,
Expires, ETag); answers to requests with a nonce are marked no-cache.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from datetime import datetime
from email.utils import format_datetime
from typing import Optional

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openjpki.services.authority import NotInitialised
from openjpki.services.authority_ocsp import INTERNAL_ERROR, MALFORMED, TRY_LATER, OcspAnswer
from openjpki.web.context import WebContext

OCSP_RESPONSE = "application/ocsp-response"
MAX_REQUEST = 65_536
log = logging.getLogger("openjpki.web")


async def _read_limited(request: Request, limit: int = MAX_REQUEST) -> Optional[bytes]:
    """The body, or None when it is larger than ``limit`` (not read further)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def decode_get_path(encoded: str) -> Optional[bytes]:
    """The request DER from a GET path segment: base64 standard or URL-safe alphabet,
    padding optional (the path arrives percent-decoded). None when it is not base64."""
    text = encoded.strip().replace("-", "+").replace("_", "/").rstrip("=")
    if not text or len(text) > MAX_REQUEST * 2 or len(text) % 4 == 1:
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


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


def _response(answer: OcspAnswer, now: datetime, http_get: bool) -> Response:
    headers = {}
    if http_get and answer.cacheable and answer.next_update is not None:
        max_age = max(0, int((answer.next_update - now).total_seconds()))
        headers = {
            "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
            "Last-Modified": _http_date(answer.this_update),  # type: ignore[arg-type]
            "Expires": _http_date(answer.next_update),
            "ETag": '"' + hashlib.sha1(answer.der).hexdigest() + '"',
        }
    elif http_get:
        headers = {"Cache-Control": "no-cache, no-store"}
    return Response(answer.der, media_type=OCSP_RESPONSE, headers=headers)


async def _answer(request: Request, body: Optional[bytes], http_get: bool) -> Response:
    ctx: WebContext = request.app.state.openjpki
    now = ctx.clock()
    if body is None:
        return _response(OcspAnswer(MALFORMED, status="malformedRequest"), now, http_get)
    responder = ctx.responder
    answer = None
    if responder is not None:
        if ctx.sync_due():
            await run_in_threadpool(ctx.sync)
        answer = responder.cached(body, now)
    if answer is None:
        answer = await run_in_threadpool(_answer_blocking, ctx, body, now)
    return _response(answer, now, http_get)


async def ocsp_post(request: Request) -> Response:
    return await _answer(request, await _read_limited(request), http_get=False)


async def ocsp_get(request: Request) -> Response:
    return await _answer(request, decode_get_path(request.path_params.get("encoded", "")),
                         http_get=True)

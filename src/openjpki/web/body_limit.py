"""The largest request body the server takes, checked before anything else reads it.

Every HTTP request except OCSP's (which has its own, smaller bound: ``web.ocsp.MAX_REQUEST``)
passes through :func:`limit_body` before routing, authentication or parsing: a
``Content-Length`` over the limit is answered 413 at once, without reading a byte of the
body; a body sent without a length (chunked) is counted as it arrives and answered 413 as
soon as it passes the limit. Both answers close the connection (``Connection: close``), so
nothing more is read from it. A body within the limit is held (at most the limit) and handed
to the app as if it had just arrived — unless it is JSON naming a member twice, which is
answered 400 (:mod:`openjpki.web.json_keys`).

The limit is ``[http] max_body`` (bytes) in the home's ``openjpki.toml``; 1 MiB by default.

Every refusal of this layer is made by one :data:`Refusal` function: by default a problem
response (RFC 9457); a part of the app whose paths answer in a shape of their own (the
platform API's) names its function for its path prefix with :func:`refuse_in_own_shape`,
and :func:`refusal_for` picks it — the limit is still enforced here, before the body is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openjpki.config import config_value
from openjpki.web.json_keys import DUPLICATE_KEY, duplicate_key, is_json
from openjpki.web.problems import problem_response

DEFAULT_MAX_BODY = 1024 * 1024
MAX_MAX_BODY = 1024 * 1024 * 1024  # what the setting may say at most
BODY_TOO_LARGE = "https://openjpki.github.io/problems/body-too-large"
_NO_BODY = (b"GET", b"HEAD", b"OPTIONS", b"DELETE")

# (scope, status, title, detail, headers, **extensions) -> the answer to send
Refusal = Callable[..., Response]


def problem_refusal(scope: Scope, status: int, title: str, detail: str,
                    headers: Optional[dict[str, str]] = None, **extensions: Any) -> Response:
    """The default refusal: a problem response naming the request's path."""
    return problem_response(status, title, detail, instance=scope.get("path"), headers=headers,
                            **extensions)


def refuse_in_own_shape(app: Any, prefix: str, refusal: Refusal) -> None:
    """Answer this layer's refusals of requests under ``prefix`` with ``refusal``."""
    app.state.body_refusals = [*getattr(app.state, "body_refusals", ()), (prefix, refusal)]


def refusal_for(app: Any, path: str) -> Refusal:
    """The refusal for ``path``: the first prefix named for it, else :func:`problem_refusal`."""
    for prefix, refusal in getattr(app.state, "body_refusals", ()):
        if path.startswith(prefix):
            return refusal
    return problem_refusal


class HttpConfigError(ValueError):
    """``[http]`` in the home's configuration is not usable (one line)."""


def load_max_body(config_file: Path) -> int:
    """``[http] max_body`` of ``config_file`` (bytes, 1 … 1 GiB), else the default."""
    value = config_value(config_file, "http", "max_body", HttpConfigError)
    if value is None:
        return DEFAULT_MAX_BODY
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MAX_BODY:
        raise HttpConfigError(f"[http] max_body in {config_file} must be a whole number of "
                              f"bytes from 1 to {MAX_MAX_BODY}")
    return value


def too_large_bytes(limit: int) -> bytes:
    """The whole 413 answer as bytes, for a protocol that writes to the transport itself."""
    body = _problem_body(limit)
    return (b"HTTP/1.1 413 Content Too Large\r\ncontent-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
            + body)


def _problem_body(limit: int) -> bytes:
    return problem_response(413, "Content Too Large", _detail(limit), type=BODY_TOO_LARGE,
                            max_body=limit).body


def _detail(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, the most this server takes"


async def _too_large(scope: Scope, send: Send, limit: int, refuse: Refusal) -> None:
    response = refuse(scope, 413, "Content Too Large", _detail(limit), {"Connection": "close"},
                      type=BODY_TOO_LARGE, max_body=limit)
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:  # the 413 answer reads nothing
    return {"type": "http.disconnect"}


def _declared(scope: Scope) -> tuple[Optional[int], bool, bool]:
    """(Content-Length or None, whether the body is chunked, whether the length is bad)."""
    length: Optional[int] = None
    chunked = bad = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                bad = True
            else:
                length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked, bad


def streamed_or_over(scope: Scope, limit: int) -> bool:
    """Whether the request's body is chunked, or declared longer than ``limit``, or its
    length is not a number: the requests that must go through :func:`limit_body`."""
    length, chunked, bad = _declared(scope)
    return chunked or bad or (length is not None and length > limit)


async def limit_body(app: ASGIApp, scope: Scope, receive: Receive, send: Send,
                     limit: int, refuse: Refusal = problem_refusal) -> None:
    """Run ``app`` on a request whose body is at most ``limit`` bytes; 413 otherwise (every
    refusal made by ``refuse``)."""
    length, chunked, bad = _declared(scope)
    if bad:
        response = refuse(scope, 400, "Bad Request", "the Content-Length header is not one "
                          "whole number", {"Connection": "close"})
        await response(scope, _no_receive, send)
        return
    if length is not None and length > limit:
        await _too_large(scope, send, limit, refuse)
        return
    if not chunked and (length is None or length == 0) \
            and scope.get("method", "GET").encode() in _NO_BODY:
        await app(scope, receive, send)
        return
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away before the body was whole
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _too_large(scope, send, limit, refuse)
            return
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    refusal = _duplicate_member(scope, body, refuse)
    if refusal is not None:
        await refusal(scope, _no_receive, send)
        return
    await app(scope, _replay(body, receive), send)


def _duplicate_member(scope: Scope, body: bytes, refuse: Refusal) -> Optional[Response]:
    """The 400 answer for a JSON body naming a member twice (:mod:`web.json_keys`)."""
    content_type = next((v for k, v in scope.get("headers", ()) if k == b"content-type"), b"")
    if not body or (content_type and not is_json(content_type)):
        return None  # FastAPI reads a body without a content type as JSON too
    key = duplicate_key(body)
    if key is None:
        return None
    return refuse(scope, 400, "Duplicate member", f"the JSON body names {key!r} more than once; "
                  "each member may appear once", None, type=DUPLICATE_KEY, member=key)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the held body once, then what the connection says next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay

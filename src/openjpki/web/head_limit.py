"""uvicorn's HTTP protocol with the request head bounded, for the connections the OCSP front
hands over (``web.ocsp_front``).

uvicorn's httptools protocol keeps reading a request head for as long as the client sends
one — a header line of hundreds of megabytes grows the server by as much. Here the bytes
read while a head is still incomplete are counted, and past :data:`MAX_HEAD_BYTES` the
request is answered ``431`` (problem+json) and the connection closed — made by the refusal
``web.body_limit`` names for the request's path (:func:`~openjpki.web.body_limit.refusal_for`:
on the platform API's paths the contract's 400 in its shape). (Without httptools, uvicorn's
h11 protocol has such a bound of its own.) The body is bounded by ``web.body_limit``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from openjpki.web.body_limit import refusal_for

MAX_HEAD_BYTES = 256 * 1024  # above the OCSP front's own (3 × 64 KiB) and any real head
HEAD_TOO_LARGE = "https://openjpki.github.io/problems/head-too-large"


def _app_of(app: Any) -> Any:
    """The OpenJPKI app behind uvicorn's wrappers (the one whose state names refusals)."""
    for _ in range(8):
        if app is None or hasattr(getattr(app, "state", None), "body_refusals"):
            return app
        app = getattr(app, "app", None)
    return None


def _answer_431(app: Any, url: bytes) -> bytes:
    """The whole answer as bytes (written to the transport: the app never sees the request)."""
    path = url.split(b"?", 1)[0].decode("latin-1")
    found = _app_of(app)
    refuse = refusal_for(found, path) if found is not None else refusal_for(_NoRefusals, path)
    response = refuse({"type": "http", "path": path}, 431, "Request Header Fields Too Large",
                      f"the request head is larger than {MAX_HEAD_BYTES} bytes",
                      {"Connection": "close"}, type=HEAD_TOO_LARGE)
    status = response.status_code
    head = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode() + head + b"\r\n"
            + response.body)


class _NoRefusals:
    class state:  # noqa: N801 — stands for an app's state naming no refusal of its own
        body_refusals = ()


def bounded_protocol() -> Any:
    """The protocol class connections are handed to: httptools' with the head bounded, or
    h11's (already bounded) when httptools is not installed."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: h11 bounds incomplete heads itself (16 KiB)
        from uvicorn.protocols.http.h11_impl import H11Protocol
        return H11Protocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        in_head = True  # a connection starts with a head
        head_bytes = 0

        def on_message_begin(self) -> None:
            self.in_head = True
            self.head_bytes = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self.in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self.in_head or self.transport.is_closing():
                return
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self.transport.write(_answer_431(self.app, getattr(self, "url", b"")))
                self.transport.close()

    return BoundedHttpToolsProtocol

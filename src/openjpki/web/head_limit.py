"""uvicorn's HTTP protocol with the request head bounded, for the connections the OCSP front
hands over (``web.ocsp_front``).

uvicorn's httptools protocol keeps reading a request head for as long as the client sends
one — a header line of hundreds of megabytes grows the server by as much. Here the bytes
read while a head is still incomplete are counted, and past :data:`MAX_HEAD_BYTES` the
request is answered ``431`` (problem+json) and the connection closed. (Without httptools,
uvicorn's h11 protocol has such a bound of its own.) The body is bounded by
``web.body_limit``.
"""

from __future__ import annotations

import json
from typing import Any

MAX_HEAD_BYTES = 256 * 1024  # above the OCSP front's own (3 × 64 KiB) and any real head
HEAD_TOO_LARGE = "https://openjpki.github.io/problems/head-too-large"


def _answer_431() -> bytes:
    body = json.dumps({"type": HEAD_TOO_LARGE, "title": "Request Header Fields Too Large",
                       "status": 431, "detail": f"the request head is larger than "
                       f"{MAX_HEAD_BYTES} bytes"}).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)


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
                self.transport.write(_answer_431())
                self.transport.close()

    return BoundedHttpToolsProtocol

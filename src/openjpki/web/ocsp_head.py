"""The request heads the OCSP front (``web.ocsp_front``) answers itself: ``GET``/``HEAD
/ocsp/<base64>`` and ``POST /ocsp`` in origin form, HTTP/1.1 or 1.0, a head of well-formed
lines (CRLF only, ``name: value`` with a token name, a printable target), ``Content-Length``
at most once, digits only and only on POST, no ``Transfer-Encoding``, ``Expect`` or
``Upgrade``. :func:`parse_head` says None for any other head, which the front then leaves to
uvicorn's own parser (and the app): 400 for bad HTTP, 405 for other methods, and so on.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import datetime
from typing import Optional

from openjpki.services.authority_ocsp import OcspAnswer
from openjpki.web.ocsp import decode_get_path

_HEADER = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*")
_TARGET = re.compile(rb"/ocsp(/[!-~]*)?")
GET, HEAD, POST = b"GET", b"HEAD", b"POST"  # parse_head gives these very objects (``is``)


class Request:
    """What the head of a request we take says."""

    __slots__ = ("method", "body", "keep_alive", "length", "sent")

    def __init__(self, method: bytes, body: Optional[bytes], keep_alive: bool, length: int) -> None:
        self.method = method
        self.body = body  # GET/HEAD: the request DER from the path (None: not base64)
        self.keep_alive = keep_alive
        self.length = length  # POST: the body's length
        # The last response to this head: (answer, uvicorn's default headers, the times
        # between which its max-age stays the same, the bytes). A client that asks again
        # (with the same head) mostly gets the same bytes: same answer, same second.
        self.sent: Optional[tuple[OcspAnswer, object, Optional[datetime], Optional[datetime], bytes]] = None


def _unquote(segment: bytes) -> bytes:
    """Percent-decoding of a GET path segment; the three escapes base64 needs first."""
    if b"%" not in segment:
        return segment
    segment = segment.replace(b"%2B", b"+").replace(b"%2F", b"/").replace(b"%3D", b"=")
    return urllib.parse.unquote_to_bytes(segment) if b"%" in segment else segment


def parse_head(head: bytes) -> Optional[Request]:
    """The request in ``head`` (without its final empty line) when it is one we take."""
    lines = head.split(b"\r\n")
    if head.count(b"\n") != len(lines) - 1 or head.count(b"\r") != len(lines) - 1:
        return None  # a bare CR or LF: uvicorn's parser judges
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if version == b"HTTP/1.1":
        keep_alive = True
    elif version == b"HTTP/1.0":
        keep_alive = False
    else:
        return None
    query = target.find(b"?")
    path = target if query < 0 else target[:query]
    if _TARGET.fullmatch(target) is None:
        return None
    if method == POST:
        if path != b"/ocsp":
            return None
    elif method == GET or method == HEAD:
        if not path.startswith(b"/ocsp/"):
            return None
    else:
        return None
    length = -1
    for line in lines[1:]:
        m = _HEADER.fullmatch(line)
        if m is None:
            return None
        name = m.group(1).lower()
        if name == b"content-length":
            value = m.group(2)
            if length >= 0 or not value.isdigit():
                return None
            length = int(value)
        elif name == b"connection":
            tokens = [t.strip().lower() for t in m.group(2).split(b",")]
            if b"upgrade" in tokens:
                return None
            if b"close" in tokens:
                keep_alive = False
        elif name in (b"transfer-encoding", b"expect", b"upgrade"):
            return None
    if method != POST:
        if length > 0:
            return None
        return Request(GET if method == GET else HEAD, decode_get_path(_unquote(path[6:])), keep_alive, 0)
    return Request(POST, None, keep_alive, max(length, 0))

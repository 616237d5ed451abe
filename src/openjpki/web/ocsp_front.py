"""The HTTP front ``openjpki serve`` runs: OCSP requests answered on the connection itself,
everything else handed to uvicorn's own HTTP protocol and the app, on the same port.

Why by hand: uvicorn (httptools, uvloop) costs ≈ 120 µs per request and ≈ 170 µs more per
new connection before the app runs, against ≈ 20 µs for a cached OCSP answer; clients of a
responder mostly open a connection per request (``openssl ocsp`` does). This protocol
reads the request head itself, answers the OCSP requests of the usual shapes with the
cached bytes, and gives the connection to uvicorn (``transport.set_protocol``, the way
uvicorn hands a connection to its WebSocket protocol) at the first request it does not
take, with every byte of that request, so uvicorn sees the connection from there on as if
it had had it from the start. Its answers are those of ``web.ocsp`` (the ASGI side answers
the same paths the same way: what it takes here is only quicker).

What it takes is in ``web.ocsp_head`` (anything else, including malformed HTTP, goes to
uvicorn, which answers 400, 405 through the app, and so on). Requests are answered in order
(pipelining): one whose answer needs waiting (a signature, a sync with other processes, a
sandbox fault) runs in a task while reading pauses. Keep-alive as uvicorn does it (HTTP/1.1
unless ``Connection: close``; HTTP/1.0 closes), idle connections closed after
``timeout_keep_alive`` (swept every second), a POST body over 64 KiB answered
malformedRequest and its bytes skipped (over the server's body limit, ``web.body_limit``:
answered 413 without reading it, and the connection closed); uvicorn's default headers (``date``, ``server``),
graceful shutdown and request count are kept.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Optional

from uvicorn.config import Config
from uvicorn.server import ServerState

from openjpki.services.authority_ocsp import OcspAnswer
from openjpki.web.body_limit import DEFAULT_MAX_BODY, too_large_bytes
from openjpki.web.context import WebContext
from openjpki.web.head_limit import bounded_protocol
from openjpki.web.ocsp import MAX_REQUEST, answer_at_once, answer_for, max_age_of, raw_headers
from openjpki.web.ocsp_head import HEAD, POST, Request, parse_head

MAX_HEAD = 3 * MAX_REQUEST  # a GET path of a 64 KiB request in base64, percent-encoded
MAX_CACHED_HEAD = 1024
MAX_CACHED = 20_000
_STATUS_200 = b"HTTP/1.1 200 OK\r\n"
_CONNECTION_CLOSE = b"connection: close\r\n"
_SECOND = timedelta(seconds=1)


class _Front:
    """What the connections of one server share: the app's OCSP state and the protocol
    connections are handed to."""

    def __init__(self, config: Config) -> None:
        self.ctx = _web_context(config.loaded_app)
        if config.root_path or config.limit_concurrency is not None:
            self.ctx = None  # paths under a root, or 503s by count: all uvicorn's
        self.keep_alive = max(1, round(config.timeout_keep_alive))
        self.max_body: int = getattr(self.ctx, "max_body", DEFAULT_MAX_BODY)
        self.fallback: Any = OcspFront.fallback
        # The parse of a head is a function of its bytes, and a client asks again with the
        # same bytes: parsed heads are kept, with their empty line (short heads only; at
        # most MAX_CACHED, the oldest dropped first). Data that is exactly a known GET head
        # is one request.
        self.heads: OrderedDict[bytes, Request] = OrderedDict()
        self.sweeping: Optional[asyncio.TimerHandle] = None

    def request(self, head: bytes) -> Optional[Request]:
        """The request of ``head`` (up to and with its empty line), parsed and kept."""
        request = parse_head(head[:-4])
        if request is not None and len(head) <= MAX_CACHED_HEAD:
            heads = self.heads
            if len(heads) >= MAX_CACHED:
                # The oldest out (insertion order): a mix wider than the cache costs a parse
                # per miss, never a cache emptied at once.
                heads.popitem(last=False)
            heads[head] = request
        return request

    @staticmethod
    def response(defaults: list[tuple[bytes, bytes]], request: Request, answer: OcspAnswer, now: datetime,
                 close: bool) -> bytes:
        """The bytes of the response; uvicorn's default headers (``date``, ``server``) first."""
        sent = request.sent
        if sent is not None and sent[0] is answer and sent[1] is defaults and close != request.keep_alive \
                and (sent[2] is None or sent[2] < now <= sent[3]):  # type: ignore[operator]
            return sent[4]
        get = request.method != POST
        data = b"".join((_STATUS_200, *(name + b": " + value + b"\r\n" for name, value in defaults),
                         raw_headers(answer, now, get), _CONNECTION_CLOSE if close else b"", b"\r\n",
                         b"" if request.method == HEAD else answer.der))
        if close != request.keep_alive:  # not a close forced by shutdown
            since = until = None
            if get and answer.cacheable and answer.next_update is not None:
                until = answer.next_update - timedelta(seconds=max_age_of(answer, now))
                since = until - _SECOND
            request.sent = (answer, defaults, since, until, data)
        return data

    def sweep(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        """Every second: close the connections nothing came in on for ``timeout_keep_alive``
        seconds (one timer for all, instead of one per connection or request)."""
        self.sweeping = None
        ours = [c for c in state.connections if isinstance(c, OcspFront) and c.front is self]
        for c in ours:
            c.idle_for = 0 if c.active or c.busy else c.idle_for + 1
            c.active = False
            if c.idle_for >= self.keep_alive:
                c._close()
        if ours:
            self.sweeping = loop.call_later(1.0, self.sweep, state, loop)


def _web_context(app: Any) -> Optional[WebContext]:
    """The app's shared state (``app.state.openjpki``), looked for through uvicorn's wrappers."""
    for _ in range(8):
        ctx = getattr(getattr(app, "state", None), "openjpki", None)
        if isinstance(ctx, WebContext):
            return ctx
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


class OcspFront(asyncio.Protocol):
    """uvicorn's HTTP protocol class for ``openjpki serve`` (``uvicorn.Config(http=OcspFront)``)."""

    fallback: Any = bounded_protocol()  # httptools' with the head bounded, else h11
    _fronts: "weakref.WeakKeyDictionary[Config, _Front]" = weakref.WeakKeyDictionary()
    _last: tuple[Optional[Config], Optional[_Front]] = (None, None)  # the usual one server

    # A connection's state; the class holds the initial values, so that a new connection
    # (one per request for many clients) sets only what it must.
    transport: asyncio.Transport
    buffer = b""
    skip = 0  # body bytes of a refused POST still to come
    busy = False  # an answer is being made in a task
    write_paused = False
    read_paused = False
    eof = False
    closing = False  # close when nothing is pending (shutdown)
    done = False  # closed or handed over
    active = False  # data came in since the last sweep
    idle_for = 0  # sweeps (seconds) without data

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        last_config, front = OcspFront._last
        if config is not last_config:
            front = self._front_of(config)
        self.front = front
        self.config = config
        self.server_state = server_state
        self.app_state = app_state

    @classmethod
    def _front_of(cls, config: Config) -> _Front:
        if not config.loaded:
            config.load()
        front = cls._fronts.get(config)
        if front is None:
            front = cls._fronts[config] = _Front(config)
        cls._last = (config, front)
        return front

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.front.ctx is None:
            self._hand_over(b"")
            return
        self.server_state.connections.add(self)
        if self.front.sweeping is None:
            loop = asyncio.get_running_loop()
            self.front.sweeping = loop.call_later(1.0, self.front.sweep, self.server_state, loop)

    def data_received(self, data: bytes) -> None:
        self.active = True
        if not (self.buffer or self.skip or self.busy or self.write_paused):
            # The usual case: the data is one whole GET whose head was seen before.
            request = self.front.heads.get(data)
            if request is not None and request.method is not POST:
                got = answer_at_once(self.front.ctx, request.body)  # type: ignore[arg-type]
                if got is None:
                    self._answer_later(request, request.body)
                else:
                    self._respond(request, *got)
                return
        if self.skip:
            n = min(self.skip, len(data))
            self.skip -= n
            data = data[n:]
        self.buffer = self.buffer + data if self.buffer else data
        self._process()

    def eof_received(self) -> bool:
        self.eof = True  # answer what was asked in full, then close (see _process)
        if not (self.busy or self.write_paused):
            self._close()
        return True

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.done = True
        self.server_state.connections.discard(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        self._reading(False)

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.done:
            self._reading(not self.busy)
            self._process()

    # --- uvicorn's server --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful shutdown: close now when idle, else after the answer being made."""
        self.closing = True
        if not self.busy:
            self._close()

    # --- requests ----------------------------------------------------------------------------

    def _process(self) -> None:
        """Answer the complete requests in the buffer, in order, until one needs waiting."""
        buffer = self.buffer
        front = self.front
        ctx, heads = front.ctx, front.heads
        while buffer and not (self.busy or self.write_paused or self.done):
            if buffer.startswith(b"\r\n"):  # empty lines before a request line (RFC 9112 §2.2)
                buffer = buffer[2:]
                continue
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD or buffer.count(b"\n") != buffer.count(b"\r\n"):
                    self._hand_over(buffer)
                    return
                break
            start = end + 4
            head = buffer if start == len(buffer) else buffer[:start]
            request = heads.get(head)
            if request is None:
                request = front.request(head) if end <= MAX_HEAD else None
            if request is None:
                self._hand_over(buffer)
                return
            if request.method == POST:
                n = request.length
                if n > front.max_body:  # not read at all: 413 and the connection closed
                    self.buffer = b""
                    self.server_state.total_requests += 1
                    self.transport.write(too_large_bytes(front.max_body))
                    self._close()
                    return
                if n > MAX_REQUEST:
                    body = None
                    skip = min(n, len(buffer) - start)
                    self.skip = n - skip
                    start += skip
                elif len(buffer) - start < n:
                    break  # the rest of the body is on its way
                else:
                    body = buffer[start:start + n]
                    start += n
            else:
                body = request.body
            buffer = buffer[start:]
            self.buffer = buffer
            got = answer_at_once(ctx, body)
            if got is None:
                self._answer_later(request, body)
            else:
                self._respond(request, *got)
        self.buffer = buffer
        if self.eof and not (self.busy or self.write_paused):
            self._close()

    def _answer_later(self, request: Request, body: Optional[bytes]) -> None:
        """Make the answer in a task, reading paused meanwhile (answers go out in order)."""
        self.busy = True
        self._reading(False)
        task = asyncio.get_running_loop().create_task(self._answer_in_task(request, body))
        self.server_state.tasks.add(task)
        task.add_done_callback(self.server_state.tasks.discard)

    async def _answer_in_task(self, request: Request, body: Optional[bytes]) -> None:
        try:
            answer, now = await answer_for(self.front.ctx, body)  # raises only if cancelled
        except BaseException:
            self.busy = False
            self._close()
            raise
        self.busy = False
        if self.done:
            return
        self.active = True
        self._respond(request, answer, now)
        if not self.done:
            self._reading(not self.write_paused)
            self._process()

    def _respond(self, request: Request, answer: OcspAnswer, now: datetime) -> None:
        self.server_state.total_requests += 1
        close = not request.keep_alive or self.closing
        self.transport.write(_Front.response(self.server_state.default_headers, request, answer, now, close))
        if close:
            self._close()

    # --- the connection ----------------------------------------------------------------------

    def _reading(self, on: bool) -> None:
        if self.done or on != self.read_paused:
            return
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()
        self.read_paused = not on

    def _close(self) -> None:
        if not self.done:
            self.done = True
            self.transport.close()  # after what is written

    def _hand_over(self, data: bytes) -> None:
        """From here on the connection is uvicorn's: its protocol gets it, and ``data`` (the
        bytes from the start of the first request not taken here) as if just received."""
        self.done = True
        self.server_state.connections.discard(self)
        if self.read_paused:
            self.transport.resume_reading()
            self.read_paused = False
        protocol = self.front.fallback(config=self.config, server_state=self.server_state,
                                       app_state=self.app_state)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if data:
            protocol.data_received(data)
        if self.eof:
            protocol.eof_received()

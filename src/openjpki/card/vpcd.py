"""The bridge that puts a card into vsmartcard's vpcd virtual reader (CARD.md "Reaching it
from real middleware").

vpcd protocol: every message is a 2-byte big-endian length, then the payload. One-byte
payloads are control messages: 00 power off, 01 power on, 02 reset, 04 get ATR; only 04
gets a reply (the ATR). Longer payloads are command APDUs, answered with the response APDU,
length-prefixed the same way. pcscd asks for the ATR about every 0.4 s.

The card is a TCP client of vpcd, default 127.0.0.1:35963 (reader "Virtual PCD 00 00" of
Debian's reader.conf). When pcscd restarts the connection drops and the bridge reconnects
with a growing back-off (0.1 s to 2 s). vpcd listens on all interfaces and cannot be told
otherwise; its reverse mode (reader.conf DEVICENAME ``host:port``, vpcd connecting to a
listening card) would keep it off the network, but this vpcd (Debian 12) aborts pcscd
("bit out of range 0 - FD_SETSIZE on fd_set") as soon as a slot has no card listening, so
the bridge does not offer it: firewall the ports instead (README.md).

Each connection: TCP_NODELAY, and TCP_QUICKACK set again before every receive (Linux
clears it): vpcd writes the length and the payload separately, and with delayed ACKs every
APDU would cost ~40 ms. APDU contents are never logged (they carry PINs).
"""

from __future__ import annotations

import logging
import select
import socket
import sys
import time
from typing import Callable

from openjpki.card.card import VirtualCard

log = logging.getLogger("openjpki.card.vpcd")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0x00, 0x01, 0x02, 0x04
_QUICKACK = getattr(socket, "TCP_QUICKACK", 12) if sys.platform.startswith("linux") else None
_POLL = 0.25  # how often a waiting bridge looks at its stop flag


def parse_endpoint(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` (``[v6]:PORT`` for IPv6)."""
    text = text.strip()
    host, port = text, str(default_port)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad address {text!r}")
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad address {text!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    host = host or DEFAULT_HOST
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port in {text!r}")
    return host, int(port)


class _Closed(Exception):
    pass


class VpcdBridge:
    """Serve ``card`` to vpcd until ``stop()``."""

    def __init__(self, card: VirtualCard, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 *, on_event: Callable[[str], None] | None = None) -> None:
        self.card = card
        self.host, self.port = host, port
        self._stop = False
        self._on_event = on_event or (lambda msg: log.info("%s", msg))
        self.connections = 0

    def stop(self) -> None:
        """Ask ``run()`` to return (safe from a signal handler)."""
        self._stop = True

    @property
    def stopping(self) -> bool:
        return self._stop

    # --- connection management ----------------------------------------------------------
    def run(self) -> None:
        """Connect to vpcd and serve the card; reconnect whenever the connection drops;
        return once ``stop()`` was called."""
        backoff = 0.1
        waiting_said = False
        while not self._stop:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError as e:
                if not waiting_said:
                    self._on_event(f"waiting for vpcd at {self.host}:{self.port} "
                                   f"({e.strerror or e})")
                    waiting_said = True
                self._sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            waiting_said = False
            backoff = 0.1
            self._serve(sock, f"vpcd at {self.host}:{self.port}")
        self.card.power_off()

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stop and time.monotonic() < end:
            time.sleep(min(_POLL, max(0.0, end - time.monotonic())))

    # --- one connection -------------------------------------------------------------------
    def _serve(self, sock: socket.socket, peer: str) -> None:
        self.connections += 1
        sock.setblocking(True)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_event(f"card {self.card.card_id} inserted ({peer})")
        try:
            while not self._stop:
                try:
                    header = self._recv_exact(sock, 2)
                    length = int.from_bytes(header, "big")
                    payload = self._recv_exact(sock, length) if length else b""
                except _Closed:
                    break
                reply = self._handle(payload)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError as e:
            self._on_event(f"connection to vpcd lost ({e.strerror or e})")
        finally:
            self.card.power_off()
            try:
                sock.close()
            except OSError:
                pass
        if not self._stop:
            self._on_event("vpcd closed the connection; reconnecting")

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            if _QUICKACK is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    pass
            ready, _, _ = select.select([sock], [], [], _POLL)
            if not ready:
                if self._stop:
                    raise _Closed()
                continue
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise _Closed()
            buf += chunk
        return bytes(buf)

    def _handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            ctrl = payload[0]
            if ctrl == CTRL_ATR:
                return self.card.atr
            if ctrl == CTRL_OFF:
                self.card.power_off()
            elif ctrl == CTRL_ON:
                self.card.power_on()
            elif ctrl == CTRL_RESET:
                self.card.reset()
            return None
        if not payload:
            return None
        return self.card.transmit(payload)

"""A stand-in for vpcd's side of its TCP protocol (2-byte big-endian length + payload), so
the bridge and the card process can be tested without pcscd."""

from __future__ import annotations

import socket


class FakeVpcd:
    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self, timeout: float = 15) -> None:
        self.server.settimeout(timeout)
        self.conn, _ = self.server.accept()
        self.conn.settimeout(timeout)

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("card side closed")
            buf += chunk
        return buf

    def send(self, payload: bytes) -> None:
        # like vpcd: the length and the payload in separate writes
        self.conn.sendall(len(payload).to_bytes(2, "big"))
        self.conn.sendall(payload)

    def recv(self) -> bytes:
        return self._recv_exact(int.from_bytes(self._recv_exact(2), "big"))

    def ctrl(self, code: int) -> None:
        self.send(bytes((code,)))

    def atr(self) -> bytes:
        self.ctrl(0x04)
        return self.recv()

    def apdu(self, apdu: bytes | str) -> bytes:
        self.send(bytes.fromhex(apdu) if isinstance(apdu, str) else apdu)
        return self.recv()

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        # The listening socket first: a card side that reconnects at once on the dropped
        # connection must find nobody listening (as when pcscd stops), not the old socket.
        self.server.close()
        self.drop()

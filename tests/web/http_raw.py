"""HTTP/1.1 over a plain socket, for the tests of the OCSP front: bytes sent exactly as
written (pipelined, in pieces, malformed), responses read one by one by their
Content-Length (or to the end of the connection)."""

from __future__ import annotations

import base64
import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def ocsp(self) -> ocsp.OCSPResponse:
        assert self.status == 200, (self.status, self.body[:300])
        assert self.headers["content-type"] == "application/ocsp-response"
        return ocsp.load_der_ocsp_response(self.body)


class Connection:
    def __init__(self, port: int, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> "Connection":
        self.sock.sendall(data)
        return self

    def read(self, head: bool = False) -> Response:
        """The next response (``head``: to a HEAD request, so without body)."""
        line = self.file.readline()
        if not line:
            raise EOFError("connection closed before a response")
        version, status, _ = line.decode("latin-1").split(" ", 2)
        assert version == "HTTP/1.1", line
        headers: dict[str, str] = {}
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            assert name.lower() not in headers, f"{name} twice"
            headers[name.lower()] = value.strip()
        if head or int(status) in (100, 204, 304):
            body = b""
        elif "content-length" in headers:
            body = self.file.read(int(headers["content-length"]))
        else:
            assert headers.get("transfer-encoding") != "chunked", "chunked answer not expected"
            body = self.file.read()
        return Response(int(status), headers, body)

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True when the server closes the connection (nothing more comes) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            return self.file.read(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def der_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: Optional[bytes] = None) -> bytes:
    b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def serial_request(serial: int, like: bytes) -> bytes:
    """A request about ``serial`` under the issuer of the request ``like`` (for serials
    nobody issued)."""
    template = ocsp.load_der_ocsp_request(like)
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        template.issuer_name_hash, template.issuer_key_hash, serial, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def get_path(der: bytes) -> str:
    """RFC 5019 GET path: base64, URL-encoded."""
    return "/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")


def get(path: str, *headers: str, version: str = "HTTP/1.1", method: str = "GET") -> bytes:
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(body: bytes, *headers: str, path: str = "/ocsp") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/ocsp-request",
             f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

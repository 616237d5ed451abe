"""Request bodies are bounded before anything else reads them (``[http] max_body``, 1 MiB by
default): a Content-Length over it is answered 413 without reading the body, a chunked body
as soon as it passes the limit; the connection is then closed. Tried against ``openjpki
serve --production`` with a 300 MB body and no token, the server's memory measured."""

from __future__ import annotations

import json
import socket

import pytest

from serve_process import Serve

pytestmark = pytest.mark.slow
MB = 1024 * 1024


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("limits") / "home"
    serve = Serve(home, _port(), "--production")
    try:
        yield serve
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("limits-small") / "home"
    home.mkdir(mode=0o700)
    (home / "openjpki.toml").write_text("[http]\nmax_body = 2048\n", encoding="utf-8")
    serve = Serve(home, _port())
    try:
        yield serve
    finally:
        serve.stop()


def _response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict, bytes, bool]:
    """(status, headers, body, whether the server closed the connection after it)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    closed = False
    try:
        sock.settimeout(3)
        while True:
            more = sock.recv(65536)
            if not more:
                closed = True
                break
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except socket.timeout:
        closed = False
    return status, headers, body, closed


def _send_body(sock: socket.socket, total: int, chunked: bool) -> int:
    """Stream ``total`` bytes (zeros) until the server stops taking them; bytes sent."""
    block = b"0" * MB
    sent = 0
    sock.settimeout(10)
    try:
        while sent < total:
            if chunked:
                sock.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
            else:
                sock.sendall(block)
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    return sent


def _head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"{extra}\r\n").encode()


def _assert_413(status, headers, body, closed, limit=MB):
    assert status == 413
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == 413 and problem["max_body"] == limit
    assert headers.get("connection", "").lower() == "close"
    assert closed, "the connection is closed after the 413"


def test_300_mb_declared_body_without_token_is_refused_unread(server):
    pid = server.proc.pid
    before = _rss_kib(pid)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head("/api/residents", f"content-length: {300 * MB}\r\n"))
        status, headers, body, _ = _response(sock)
        _assert_413(status, headers, body, True)
        sent = _send_body(sock, 300 * MB, chunked=False)
    assert sent < 100 * MB, f"the server kept reading: {sent} bytes taken"
    grown = _rss_kib(pid) - before
    assert grown < 8 * 1024, f"the server's RSS grew by {grown} KiB"


def test_300_mb_chunked_body_is_cut_at_the_limit(server):
    pid = server.proc.pid
    before = _rss_kib(pid)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head("/api/residents", "transfer-encoding: chunked\r\n"))
        sent = _send_body(sock, 300 * MB, chunked=True)
        status, headers, body, closed = _response(sock)
    _assert_413(status, headers, body, closed)
    assert sent < 100 * MB, f"the server kept reading: {sent} bytes taken"
    grown = _rss_kib(pid) - before
    assert grown < 8 * 1024, f"the server's RSS grew by {grown} KiB"


@pytest.mark.parametrize("path", ["/counter/login", "/portal/login", "/rp/sample",
                                  "/api/rp/challenges", "/nowhere"])
def test_pages_and_every_path_are_bounded(server, path):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(path, f"content-length: {2 * MB}\r\n"))
        _assert_413(*_response(sock))


def test_ocsp_front_refuses_an_oversized_post_unread(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\ncontent-type: application/ocsp-request"
                     b"\r\ncontent-length: %d\r\n\r\n" % (300 * MB))
        status, headers, body, closed = _response(sock)
        assert status == 413 and closed
        assert json.loads(body)["status"] == 413
        assert _send_body(sock, 300 * MB, chunked=False) < 100 * MB


def test_a_body_within_the_limit_still_reaches_the_app(server):
    payload = json.dumps({"name": "x"}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head("/api/residents", f"content-length: {len(payload)}\r\n") + payload)
        status, headers, body, _ = _response(sock)
    assert status == 401  # production: the token is asked for, the body was let through


def test_the_limit_is_the_homes_setting(small_server):
    """``[http] max_body = 2048``: 2049 bytes refused, a 2048-byte body answered by the app
    (a sandbox: 422 for a body that is not a resident)."""
    for size, expected in ((2049, 413), (2048, 422)):
        payload = b'{"name": "' + b"a" * (size - 12) + b'"}'
        assert len(payload) == size
        with socket.create_connection(("127.0.0.1", small_server.port)) as sock:
            sock.sendall(_head("/api/residents", f"content-length: {size}\r\n") + payload)
            status, _h, body, _c = _response(sock)
        assert status == expected, body
    chunks = b"".join(b"%x\r\n" % 1000 + b"a" * 1000 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", small_server.port)) as sock:
        sock.sendall(_head("/api/residents", "transfer-encoding: chunked\r\n") + chunks)
        status, _h, _b, closed = _response(sock)
    assert status == 413 and closed


def test_a_bad_setting_stops_serve_with_one_line(tmp_path):
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "openjpki.toml").write_text('[http]\nmax_body = "lots"\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), "serve",
                        "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "max_body" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("first", [True, False])
def test_an_endless_request_head_is_cut_off(server, first):
    """A header line that never ends (on the first request of a connection, which the OCSP
    front reads, or on a later one, which uvicorn reads): 431 and the connection closed,
    with the server's memory unchanged."""
    pid = server.proc.pid
    before = _rss_kib(pid)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        if not first:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            assert b" 200 " in sock.recv(65536)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ")
        sent = _send_body(sock, 200 * MB, chunked=False)
        status, headers, body, closed = _response(sock)
    assert status == 431 and closed
    assert json.loads(body)["status"] == 431
    assert sent < 100 * MB, f"the server kept reading: {sent} bytes taken"
    grown = _rss_kib(pid) - before
    assert grown < 8 * 1024, f"the server's RSS grew by {grown} KiB"


def _assert_platform_400(status, headers, body, closed):
    """The platform API's paths: the limit answered in the contract's shape, a 400 (its table
    has no 413), the connection still closed."""
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert set(answer) == {"responseInfo", "status"}
    assert answer["status"]["status"] == "FAILED"
    assert answer["status"]["errorInfo"]["reason"] == "400 Bad Request"
    assert headers.get("connection", "").lower() == "close"
    assert closed, "the connection is closed after the refusal"


@pytest.mark.parametrize("path", ["/verify/login", "/verify/registration", "/verify/replacement"])
def test_platform_paths_refuse_an_oversized_body_unread_in_their_shape(server, path):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(path, f"content-length: {300 * MB}\r\n"))
        _assert_platform_400(*_response(sock))
        assert _send_body(sock, 300 * MB, chunked=False) < 100 * MB


def test_platform_paths_cut_a_chunked_body_at_the_limit_in_their_shape(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head("/verify/login", "transfer-encoding: chunked\r\n"))
        sent = _send_body(sock, 300 * MB, chunked=True)
        _assert_platform_400(*_response(sock))
    assert sent < 100 * MB, f"the server kept reading: {sent} bytes taken"


@pytest.mark.parametrize("first", [True, False])
def test_an_endless_head_to_a_platform_path_is_cut_off_in_its_shape(server, first):
    """The head limit's refusal on the platform API's paths is the contract's 400 in its
    shape, made by the same per-path refusal as the body limit's; the connection closed."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        if not first:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            assert b" 200 " in sock.recv(65536)
        sock.sendall(b"POST /verify/login HTTP/1.1\r\nHost: x\r\nX-Long: ")
        sent = _send_body(sock, 200 * MB, chunked=False)
        _assert_platform_400(*_response(sock))
    assert sent < 100 * MB, f"the server kept reading: {sent} bytes taken"


def test_ocsp_on_a_connection_uvicorn_reads_is_bounded_too(server):
    """After a first request the OCSP front hands the connection to uvicorn; an oversized
    OCSP POST there is refused unread as well."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        assert b" 200 " in sock.recv(65536)
        sock.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\ncontent-type: application/ocsp-request"
                     b"\r\ncontent-length: %d\r\n\r\n" % (300 * MB))
        status, headers, body, closed = _response(sock)
        assert status == 413 and closed
        assert _send_body(sock, 300 * MB, chunked=False) < 100 * MB

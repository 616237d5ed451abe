"""The HTTP front of ``openjpki serve`` (web.ocsp_front), on a live uvicorn server in a
thread with the app ``serve`` runs: OCSP answers written on the connection (keep-alive,
close, HTTP/1.0, pipelining, HEAD, bodies in pieces, oversized bodies), the same bytes and
RFC 5019 headers as the ASGI path, and every request it does not take — other paths, other
methods, chunked or 100-continue bodies, malformed HTTP — answered by uvicorn and the app on
the same connection."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from openjpki.config import Settings
from openjpki.services.authority_home import initialise_home, open_authorities
from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE, issue_sample, seed_ca_keys
from openjpki.web.ocsp_front import OcspFront
from openjpki.web.ocsp_head import parse_head
from openjpki.web.serving import serve_app

from http_raw import Connection, der_request, get, get_path, post, serial_request
from live_helpers import Clock, LiveServer

GOOD, REVOKED, MALFORMED = (ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED,
                            ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
RFC5019_HEADERS = ("content-type", "content-length", "cache-control", "last-modified", "expires", "etag")


def _free_socket():
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _sandbox_faults(url: str, method: str, body: dict | None = None) -> None:
    import json
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + "/api/sandbox/faults" + ("/ocsp" if body else ""), data=data,
                                 method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200


def put_fault(url: str, body: dict) -> None:
    _sandbox_faults(url, "PUT", body)


def clear_faults(url: str) -> None:
    _sandbox_faults(url, "DELETE")


class Front:
    def __init__(self, settings, service, server) -> None:
        self.settings, self.service, self.server = settings, service, server
        self.port = server.port
        clock = Clock()
        issued = clock.now - timedelta(hours=1)
        self.records = {name: issue_sample(service, kind, now=issued)
                        for name, kind in (("good", "auth"), ("revoked", "sign"), ("spare", "auth"),
                                           ("later", "auth"))}
        service.revoke(self.records["revoked"].serial, "keyCompromise", at=clock.now - timedelta(minutes=5))
        self.der = {name: der_request(r.certificate, service.root(r.kind)) for name, r in self.records.items()}
        self.der["unknown"] = serial_request(0x0123456789ABCDEF, self.der["good"])
        self.path = {name: get_path(d) for name, d in self.der.items()}

    def connect(self) -> Connection:
        return Connection(self.port)

    def ask(self, data: bytes, head: bool = False):
        with self.connect() as c:
            return c.send(data).read(head=head)


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("front")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
        for name in ("OPENJPKI_DATABASE_URL", "OPENJPKI_SERVICE_MODE"):
            mp.delenv(name, raising=False)
        settings = Settings.resolve(tmp / "home")
        seed_ca_keys(settings.keys_dir)
        initialise_home(settings, now=Clock().now - timedelta(days=1))
        service = open_authorities(settings)
        server = LiveServer(serve_app(settings), _free_socket(), http=OcspFront, timeout_keep_alive=2).start()
        try:
            yield Front(settings, service, server)
        finally:
            server.stop()
            service.store.dispose()


def test_get_good_revoked_unknown_on_the_front(front):
    for name, expected in (("good", GOOD), ("revoked", REVOKED), ("unknown", ocsp.OCSPCertStatus.UNKNOWN)):
        for _ in range(2):  # signed, then from the cache
            answer = front.ask(get(front.path[name], "Connection: close")).ocsp()
            assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
            assert answer.certificate_status == expected, name
    revoked = front.ask(get(front.path["revoked"], "Connection: close")).ocsp()
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise


def test_front_and_asgi_paths_give_the_same_bytes_and_rfc5019_headers(front, monkeypatch):
    """``Expect: 100-continue`` on a GET is not taken by the front: the app answers it."""
    handed = []
    hand_over = OcspFront._hand_over
    monkeypatch.setattr(OcspFront, "_hand_over", lambda self, data: handed.append(data) or hand_over(self, data))
    with front.connect() as c:
        fast = c.send(get(front.path["good"])).read()
        assert not handed
        slow = c.send(get(front.path["good"], "Expect: 100-continue")).read()
        assert handed == [get(front.path["good"], "Expect: 100-continue")]
    assert fast.body == slow.body and fast.ocsp().certificate_status == GOOD
    for name in RFC5019_HEADERS:
        if name != "cache-control":
            assert fast.headers[name] == slow.headers[name], name
    fast_age, slow_age = (int(r.headers["cache-control"].split("max-age=")[1].split(",")[0]) for r in (fast, slow))
    assert abs(fast_age - slow_age) <= 1
    assert fast.headers["cache-control"].endswith("public, no-transform, must-revalidate")
    assert set(fast.headers) == set(slow.headers)  # date and server included, nothing else


def test_keep_alive_serves_many_requests_on_one_connection(front):
    with front.connect() as c:
        for i in range(6):
            name = ("good", "revoked", "unknown")[i % 3]
            r = c.send(get(front.path[name])).read()
            assert "connection" not in r.headers
            r.ocsp()
        r = c.send(post(front.der["good"])).read()
        assert r.ocsp().certificate_status == GOOD and "cache-control" not in r.headers
        assert not c.closed_by_server(timeout=0.3)


@pytest.mark.parametrize("how", ["Connection: close", "HTTP/1.0"])
def test_connection_close_and_http_1_0_close_after_the_answer(front, how):
    data = get(front.path["good"], "Connection: close") if how.startswith("Connection") \
        else get(front.path["good"], version="HTTP/1.0")
    with front.connect() as c:
        r = c.send(data).read()
        assert r.ocsp().certificate_status == GOOD and r.headers["connection"] == "close"
        assert c.closed_by_server()


def test_pipelined_requests_are_answered_in_order_across_the_handover(front):
    """A cached GET, a POST with a nonce (signed in a worker thread), a GET answered from the
    cache, then /healthz (the connection goes to uvicorn) and OCSP again (now the app's)."""
    nonce = der_request(front.records["good"].certificate, front.service.root("auth"), nonce=b"n" * 16)
    with front.connect() as c:
        c.send(get(front.path["good"]) + post(nonce) + get(front.path["revoked"]) + get("/healthz")
               + get(front.path["unknown"], "Connection: close"))
        first, second, third, health, last = (c.read() for _ in range(5))
        assert c.closed_by_server()
    assert first.ocsp().certificate_status == GOOD
    assert second.ocsp().extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    assert third.ocsp().certificate_status == REVOKED
    assert health.status == 200 and health.headers["content-type"] == "application/json"
    assert last.ocsp().certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_post_whose_head_and_body_arrive_in_pieces(front):
    data = post(front.der["good"])
    with front.connect() as c:
        for piece in (data[:10], data[10:-100], data[-100:-40], data[-40:]):
            c.send(piece)
            time.sleep(0.05)
        assert c.read().ocsp().certificate_status == GOOD


def test_head_has_the_get_headers_and_no_body(front):
    with front.connect() as c:
        got = c.send(get(front.path["good"])).read()
        head = c.send(get(front.path["good"], method="HEAD")).read(head=True)
        after = c.send(get(front.path["revoked"])).read()  # nothing of a body was left behind
    assert head.status == 200
    assert {k: v for k, v in head.headers.items() if k not in ("date", "cache-control")} == \
        {k: v for k, v in got.headers.items() if k not in ("date", "cache-control")}
    assert after.ocsp().certificate_status == REVOKED


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/ocsp", "POST"), ("GET", "/ocsp", "POST"), ("DELETE", "/ocsp", "POST"),
    ("POST", "/ocsp/MEIw", "GET, HEAD"), ("PUT", "/ocsp/MEIw", "GET, HEAD"),
])
def test_other_methods_on_ocsp_paths_get_405_with_allow(front, method, path, allow):
    r = front.ask(get(path, "Content-Length: 0", method=method))
    assert r.status == 405 and r.headers["allow"] == allow
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("data", [
    get("/ocsp/!!!!"), get("/ocsp/"), get("/ocsp/aGVsbG8="), get("/ocsp/%ZZ%"),
    post(b"hello, responder"), post(b""), post(b"\x30\x03\x02\x01\x00"),
], ids=["not-base64", "empty-path", "not-a-request", "bad-percent", "garbage", "empty", "not-ocsp"])
def test_malformed_requests_get_malformedRequest_with_http_200(front, data):
    assert front.ask(data).ocsp().response_status == MALFORMED


def test_oversized_body_is_malformedRequest_and_skipped(front):
    huge = post(b"\x30\x84" + b"\x00" * (70 * 1024))
    with front.connect() as c:
        c.send(huge[:5000])
        assert c.read().ocsp().response_status == MALFORMED
        c.send(huge[5000:] + get(front.path["good"]))
        assert c.read().ocsp().certificate_status == GOOD


@pytest.mark.parametrize("data", [
    b"GET /ocsp/MEIw HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET /ocsp/MEIw HTTP/1.1\nHost: x\n\n",
    b"\x00\x01\x02 hello\r\n\r\n",
    b"GET /ocsp/MEIw HTTP/1.1\r\nHost x\r\n\r\n",
], ids=["request-line", "bare-lf", "garbage", "header-without-colon"])
def test_bad_http_gets_400(front, data):
    with front.connect() as c:
        r = c.send(data).read()
        assert r.status == 400
        assert c.closed_by_server()


@pytest.mark.parametrize("path, media_type, status", [
    ("/healthz", "application/json", 200),
    ("/crl/sign.crl", "application/pkix-crl", 200),
    ("/no/such/page", "application/problem+json", 404),
])
def test_other_paths_reach_the_app_first_or_after_ocsp(front, path, media_type, status):
    for before in (b"", get(front.path["good"])):
        with front.connect() as c:
            c.send(before + get(path))
            if before:
                assert c.read().ocsp().certificate_status == GOOD
            r = c.read()
            assert r.status == status and r.headers["content-type"] == media_type


def test_chunked_and_100_continue_posts_are_answered_by_the_app(front):
    der = front.der["good"]
    chunked = (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n%s\r\n0\r\n\r\n" % (len(der), der))
    with front.connect() as c:
        assert c.send(chunked).read().ocsp().certificate_status == GOOD
    with front.connect() as c:
        c.send(post(der, "Expect: 100-continue"))
        assert c.read().status == 100
        assert c.read().ocsp().certificate_status == GOOD


def test_revocation_by_another_service_is_served_within_the_sync_interval(front):
    """Another AuthorityService on the store, as another process would be: the front serves
    the cached good answer until the next sync (every 0.5 s), then the revoked one."""
    path = front.path["spare"]
    assert front.ask(get(path)).ocsp().certificate_status == GOOD
    assert front.ask(get(path)).ocsp().certificate_status == GOOD  # now cached
    other = open_authorities(front.settings)
    try:
        other.hold(front.records["spare"].serial, at=Clock().now)
    finally:
        other.store.dispose()
    began = time.monotonic()
    while front.ask(get(path)).ocsp().certificate_status != REVOKED:
        # 0.5 s and a request; more only on a machine too busy to run the server's thread
        assert time.monotonic() - began < 5, "the revocation was not served"
        time.sleep(0.05)
    answer = front.ask(get(path)).ocsp()
    assert answer.revocation_reason == x509.ReasonFlags.certificate_hold


def test_sandbox_faults_are_honoured_by_the_front(front):
    """tryLater for every request, then a delay (the answer waits, later requests on the
    connection wait behind it), then nothing."""
    path = front.path["later"]
    assert front.ask(get(path)).ocsp().certificate_status == GOOD
    try:
        put_fault(front.server.url, {"fault": "tryLater"})
        assert front.ask(get(path)).ocsp().response_status == ocsp.OCSPResponseStatus.TRY_LATER
        put_fault(front.server.url, {"fault": "delay", "delay_ms": 400})
        with front.connect() as c:
            began = time.monotonic()
            c.send(get(path) + get(front.path["revoked"]))
            assert c.read().ocsp().certificate_status == GOOD
            assert c.read().ocsp().certificate_status == REVOKED
            assert time.monotonic() - began >= 0.75  # both delayed, one after the other
    finally:
        clear_faults(front.server.url)
    assert front.ask(get(path)).ocsp().certificate_status == GOOD


def test_idle_connections_are_closed_after_timeout_keep_alive(front):
    with front.connect() as c:
        c.send(get(front.path["good"])).read()
        began = time.monotonic()
        assert c.closed_by_server(timeout=8)
        assert 1.5 <= time.monotonic() - began <= 6  # timeout_keep_alive=2, swept every second


@pytest.mark.parametrize("head, taken", [
    (b"GET /ocsp/MEIw HTTP/1.1\r\nHost: x", True),
    (b"GET /ocsp/MEIw?x=1 HTTP/1.0", True),
    (b"POST /ocsp HTTP/1.1\r\nContent-Length: 12\r\nConnection: keep-alive, close", True),
    (b"POST /ocsp HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1", False),
    (b"POST /ocsp HTTP/1.1\r\nContent-Length: -1", False),
    (b"GET /ocsp/MEIw HTTP/1.1\r\nContent-Length: 3", False),
    (b"GET /ocsp/MEIw HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket", False),
    (b"GET http://x/ocsp/MEIw HTTP/1.1", False),
    (b"GET /ocsp/ME\x01Iw HTTP/1.1", False),
    (b"GET /ocspx HTTP/1.1", False),
    (b"get /ocsp/MEIw HTTP/1.1", False),
    (b"GET /ocsp/MEIw HTTP/2.0", False),
    (b"GET /ocsp/MEIw HTTP/1.1\r\n Host: x", False),
])
def test_which_heads_the_front_takes(head, taken):
    assert (parse_head(head) is not None) is taken


def test_max_age_counts_down_between_requests_with_the_same_head(front):
    with front.connect() as c:
        first = c.send(get(front.path["good"])).read()
        time.sleep(1.2)
        second = c.send(get(front.path["good"])).read()
    age = [int(r.headers["cache-control"].split("max-age=")[1].split(",")[0]) for r in (first, second)]
    assert first.body == second.body and age[1] < age[0]
    assert first.headers["date"] != second.headers["date"]


def test_shutdown_closes_idle_connections_and_finishes_the_answer_being_made(front):
    """uvicorn's graceful shutdown: an idle keep-alive connection is closed at once; one
    whose answer is being made (a sandbox delay) gets it, with ``connection: close``."""
    import threading

    server = LiveServer(serve_app(front.settings), _free_socket(), http=OcspFront).start()
    try:
        idle = Connection(server.port)
        assert idle.send(get(front.path["good"])).read().ocsp().certificate_status == GOOD
        put_fault(server.url, {"fault": "delay", "delay_ms": 800})
        busy = Connection(server.port).send(get(front.path["revoked"]))
        time.sleep(0.3)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        assert idle.closed_by_server(timeout=5)
        r = busy.read()
        assert r.ocsp().certificate_status == REVOKED and r.headers["connection"] == "close"
        assert busy.closed_by_server(timeout=5)
        stopping.join(timeout=15)
        assert not server.thread.is_alive()
    finally:
        clear_faults(front.server.url)
        server.stop()


def test_repeated_heads_whole_or_twice_in_one_packet(front):
    """A head seen before is answered from its kept parse: alone in a packet, twice in one
    packet (two requests), and an empty POST (whose head alone is the whole packet)."""
    request = get(front.path["good"])
    with front.connect() as c:
        for data in (request, request, request + request):
            c.send(data)
            assert c.read().ocsp().certificate_status == GOOD
        assert c.read().ocsp().certificate_status == GOOD  # the second of the pair
        for _ in range(2):
            assert c.send(post(b"")).read().ocsp().response_status == MALFORMED


def test_requests_that_find_a_sync_due_share_one_sync(front):
    """Every request that finds the sync with other processes due awaits the same one: a
    sync each would stall all connections at once every interval (seen as p99 spikes)."""
    import asyncio
    import threading

    from openjpki.web import create_app
    from openjpki.web.ocsp import answer_at_once, answer_for

    ctx = create_app(front.settings, sync_interval=0).state.openjpki  # a sync always due
    ctx.open()
    calls = []
    sync = ctx.sync

    def slow_sync() -> None:
        calls.append(threading.current_thread().name)
        time.sleep(0.05)
        sync()

    ctx.sync = slow_sync
    body = front.der["good"]

    async def ask_many() -> list:
        await answer_for(ctx, body)  # signed and cached
        assert answer_at_once(ctx, body) is None
        calls.clear()
        return await asyncio.gather(*(answer_for(ctx, body) for _ in range(20)))

    try:
        answers = asyncio.run(ask_many())
    finally:
        ctx.close()
    assert len(calls) == 1 and len({id(a) for a, _ in answers}) == 1
    assert ocsp.load_der_ocsp_response(answers[0][0].der).certificate_status == GOOD

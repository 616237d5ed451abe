"""OCSP from ``openjpki serve`` started as users start it (a child process, one and two
worker processes), so through its HTTP front: ``openssl ocsp -url`` for good, revoked and
unknown serials, with and without nonce; GET with keep-alive and with close; the app's other
paths on the same port; a revocation made by another process served within the sync
interval by every worker; sandbox faults switched on from another process."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from openjpki.config import Settings
from openjpki.services.authority_home import initialise_home, open_authorities
from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE, issue_sample, seed_ca_keys
from openjpki.web.ocsp_head import parse_head

from http_raw import Connection, der_request, get, get_path
from serve_process import Serve

pytestmark = pytest.mark.interop
PEM = serialization.Encoding.PEM
GOOD, REVOKED = ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Home:
    def __init__(self, path, port: int) -> None:
        base = f"http://127.0.0.1:{port}"
        self.settings = Settings.resolve(path)
        seed_ca_keys(self.settings.keys_dir)
        now = datetime.now(timezone.utc) - timedelta(minutes=5)
        initialise_home(self.settings, now=now - timedelta(days=1), crl_url_base=base, ocsp_url=base + "/ocsp")
        service = open_authorities(self.settings)
        try:
            self.roots = {}
            for kind in ("sign", "auth"):
                self.roots[kind] = path / f"{kind}-root.pem"
                self.roots[kind].write_bytes(service.root(kind).public_bytes(PEM))
            self.records, self.pems, self.paths = {}, {}, {}
            for name, kind in (("good", "sign"), ("revoked", "auth"), ("later", "auth"), ("workers", "auth")):
                rec = self.records[name] = issue_sample(service, kind, now=now - timedelta(hours=1))
                self.pems[name] = path / f"{name}.pem"
                self.pems[name].write_text(rec.pem)
                self.paths[name] = get_path(der_request(rec.certificate, service.root(kind)))
            service.revoke(self.records["revoked"].serial, "keyCompromise", at=now - timedelta(minutes=1))
        finally:
            service.store.dispose()

    def kind(self, name: str) -> str:
        return self.records[name].kind

    def revoke(self, name: str) -> None:
        """In this process: another process than the server's."""
        service = open_authorities(self.settings)
        try:
            service.revoke(self.records[name].serial, "affiliationChanged", at=datetime.now(timezone.utc))
        finally:
            service.store.dispose()


@pytest.fixture(scope="module")
def env():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())  # the children inherit it
        for name in ("OPENJPKI_DATABASE_URL", "OPENJPKI_SERVICE_MODE", "OPENJPKI_HOME"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def served(tmp_path_factory, env):
    port = _free_port()
    path = tmp_path_factory.mktemp("serve") / "home"
    home = Home(path, port)
    serve = Serve(path, port)
    try:
        yield home, serve
    finally:
        serve.stop()


def openssl_ocsp(serve: Serve, home: Home, name: str, *extra: str) -> str:
    root = str(home.roots[home.kind(name)])
    r = subprocess.run(["openssl", "ocsp", "-url", serve.url + "/ocsp", "-issuer", root, "-cert",
                        str(home.pems[name]), "-CAfile", root, *extra], capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


@pytest.mark.parametrize("nonce", [[], ["-no_nonce"]], ids=["nonce", "no-nonce"])
@pytest.mark.parametrize("name, expected", [("good", "good"), ("revoked", "revoked")])
def test_openssl_ocsp_url_against_serve(served, name, expected, nonce):
    home, serve = served
    out = openssl_ocsp(serve, home, name, *nonce)
    assert "Response verify OK" in out and f"{home.pems[name]}: {expected}" in out, out
    if expected == "revoked":
        assert "Reason: keyCompromise" in out
    if not nonce:
        assert "WARNING: no nonce in response" not in out


def test_openssl_ocsp_url_unknown_serial(served):
    home, serve = served
    root = str(home.roots["sign"])
    r = subprocess.run(["openssl", "ocsp", "-url", serve.url + "/ocsp", "-issuer", root, "-serial",
                        "0x0123456789ABCDEF", "-CAfile", root], capture_output=True, text=True, timeout=60)
    assert "Response verify OK" in r.stdout + r.stderr and "0x0123456789ABCDEF: unknown" in r.stdout


def test_the_front_takes_the_requests_openssl_sends(served):
    """What ``openssl ocsp -url`` sends (recorded by a bare socket) is a head the front
    answers itself rather than handing to uvicorn."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        got: list[bytes] = []

        def record() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                got.append(data)
                conn.sendall(b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")

        t = threading.Thread(target=record)
        t.start()
        subprocess.run(["openssl", "ocsp", "-url", f"http://127.0.0.1:{port}/ocsp", "-issuer",
                        str(served[0].roots["sign"]), "-serial", "0x1234", "-timeout", "10"], capture_output=True, timeout=30)
        t.join(timeout=10)
    head = got[0].split(b"\r\n\r\n")[0]
    request = parse_head(head)
    assert request is not None and request.method == b"POST", head


def test_get_with_keep_alive_and_with_close(served):
    home, serve = served
    with Connection(serve.port) as c:
        for name, status in (("good", GOOD), ("revoked", REVOKED), ("good", GOOD)):
            assert c.send(get(home.paths[name])).read().ocsp().certificate_status == status
        r = c.send(get(home.paths["revoked"], "Connection: close")).read()
        assert r.ocsp().certificate_status == REVOKED and r.headers["connection"] == "close"
        assert c.closed_by_server()


def test_other_paths_on_the_same_port(served):
    home, serve = served
    with Connection(serve.port) as c:
        assert c.send(get(home.paths["good"])).read().ocsp().certificate_status == GOOD
        health = c.send(get("/healthz")).read()
        crl = c.send(get("/crl/auth.crl", "Connection: close")).read()
    assert health.status == 200 and b'"status":"ok"' in health.body
    assert crl.status == 200 and crl.headers["content-type"] == "application/pkix-crl"


def _status(serve: Serve, path: str) -> ocsp.OCSPResponse:
    with Connection(serve.port) as c:
        return c.send(get(path, "Connection: close")).read().ocsp()


def test_revocation_by_another_process_and_faults_switched_on_from_another(served):
    home, serve = served
    path = home.paths["later"]
    assert _status(serve, path).certificate_status == GOOD
    home.revoke("later")
    began = time.monotonic()
    while _status(serve, path).certificate_status != REVOKED:
        # 0.5 s and a request; more only on a machine too busy to run the server
        assert time.monotonic() - began < 5, "the revocation was not served within the sync interval"
        time.sleep(0.05)
    cli = [sys.executable, "-m", "openjpki", "--home", str(home.settings.home), "sandbox", "fault", "ocsp"]
    try:
        assert subprocess.run([*cli, "unauthorized"], capture_output=True, timeout=120).returncode == 0
        began = time.monotonic()
        while _status(serve, path).response_status != ocsp.OCSPResponseStatus.UNAUTHORIZED:
            assert time.monotonic() - began < 5, "the fault was not honoured"
            time.sleep(0.05)
        assert "unauthorized" in openssl_ocsp(serve, home, "good", "-no_nonce").lower()
    finally:
        assert subprocess.run([*cli, "off"], capture_output=True, timeout=120).returncode == 0
    began = time.monotonic()
    while _status(serve, path).response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        assert time.monotonic() - began < 5, "the fault stayed"
        time.sleep(0.05)


def test_two_workers_answer_and_each_hears_of_a_revocation(tmp_path, env):
    port = _free_port()
    home = Home(tmp_path / "home", port)
    serve = Serve(tmp_path / "home", port, "--workers", "2")
    try:
        path = home.paths["workers"]
        assert all(_status(serve, path).certificate_status == GOOD for _ in range(30))
        assert "Response verify OK" in openssl_ocsp(serve, home, "good", "-no_nonce")
        home.revoke("workers")
        began = time.monotonic()
        # 30 answers in a row on new connections (which the two workers take in turn) revoked;
        # each worker hears of it at its next sync (the bound only stops a hang)
        while {_status(serve, path).certificate_status for _ in range(30)} != {REVOKED}:
            assert time.monotonic() - began < 30, "a worker kept serving the good answer"
    finally:
        serve.stop()
    assert serve.proc.returncode == 0, serve.log.read_text()

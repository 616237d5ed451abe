"""Responder faults, seen by openssl over HTTP from a running server: the RFC 6960 error
statuses, a stale response, a late one (measured), faults per authority and per
certificate, and CRLs that are stale (openssl verify -crl_check: "CRL has expired"),
missing (404) or unavailable (503)."""

from __future__ import annotations

import time
import urllib.request

import pytest

from openjpki.services.authority_home import open_authorities

from .kit import (
    LiveServer, free_socket, http_json, make_home, openssl_ocsp, run, sandbox_app, write_pem,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A running sandbox server and one resident with a valid card (SIGN and AUTH)."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    home = tmp_path_factory.mktemp("faults") / "home"
    settings = make_home(home, url)
    server = LiveServer(sandbox_app(settings), sock).start()
    try:
        code, body = http_json("POST", url + "/api/sandbox/residents", {"states": ["valid"]})
        assert code == 201, body
        service = open_authorities(settings)
        certs = {}
        for c in body["residents"][0]["certificates"]:
            certs[c["kind"]] = c["serial"]
            write_pem(home / f"{c['kind']}.pem", service.get(c["serial"]).pem)
        service.store.dispose()
        yield url, home, certs
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_faults(live):
    yield
    assert http_json("DELETE", live[0] + "/api/sandbox/faults")[0] == 200


def ocsp(live, kind="auth", *extra):
    url, home, _ = live
    r = openssl_ocsp(url, home, kind, home / f"{kind}.pem", *extra)
    return r, r.stdout + r.stderr


@pytest.mark.parametrize("fault, status", [
    ("tryLater", "Responder Error: trylater (3)"),
    ("internalError", "Responder Error: internalerror (2)"),
    ("unauthorized", "Responder Error: unauthorized (6)"),
])
def test_ocsp_error_statuses(cli, live, fault, status):
    r = cli(live[1], "sandbox", "fault", "ocsp", fault, "--json")
    assert r.code == 0 and r.json()["ocsp"] == fault and r.json()["crl"] == "off"
    res, out = ocsp(live)
    assert res.returncode != 0 and status in out, out
    cli(live[1], "sandbox", "fault", "ocsp", "off")
    res, out = ocsp(live)
    assert res.returncode == 0 and "Response verify OK" in out and ": good" in out, out


def test_ocsp_stale_response_is_signed_but_expired(cli, live):
    assert cli(live[1], "sandbox", "fault", "ocsp", "stale").code == 0
    res, out = ocsp(live)
    assert "Response verify OK" in out  # properly signed …
    assert "Status times invalid" in out and "status expired" in out, out  # … but out of date


def test_ocsp_delay_is_measured(cli, live):
    _, out = ocsp(live)  # warm (the key is loaded, the answer cached)
    t0 = time.monotonic()
    ocsp(live)
    quick = time.monotonic() - t0
    r = cli(live[1], "sandbox", "fault", "ocsp", "delay", "--delay-ms", "1500", "--json")
    assert r.json()["ocsp"] == "delay" and r.json()["ocsp_delay_ms"] == 1500
    t0 = time.monotonic()
    res, out = ocsp(live)
    slow = time.monotonic() - t0
    assert res.returncode == 0 and ": good" in out
    assert slow >= 1.5 and slow - quick >= 1.2, (quick, slow)
    # an error can come late too
    cli(live[1], "sandbox", "fault", "ocsp", "tryLater", "--delay-ms", "800")
    t0 = time.monotonic()
    _, out = ocsp(live)
    assert "trylater" in out and time.monotonic() - t0 >= 0.8


def test_ocsp_fault_for_one_authority_or_one_certificate(cli, live):
    url, home, certs = live
    r = cli(home, "sandbox", "fault", "ocsp", "internalError", "--kind", "sign", "--json")
    assert r.json()["scope"] == "sign" and r.json()["ocsp"] == "internalError"
    assert "internalerror" in ocsp(live, "sign")[1]
    assert ": good" in ocsp(live, "auth")[1]
    r = cli(home, "sandbox", "fault", "ocsp", "unauthorized", "--serial", certs["auth"], "--json")
    assert r.json()["scope"] == f"serial:{certs['auth']}"
    assert "unauthorized" in ocsp(live, "auth")[1]
    assert "internalerror" in ocsp(live, "sign")[1]
    # the narrowest fault wins: one for every certificate does not override the serial's
    cli(home, "sandbox", "fault", "ocsp", "tryLater")
    assert "unauthorized" in ocsp(live, "auth")[1]
    assert "internalerror" in ocsp(live, "sign")[1]
    r = cli(home, "sandbox", "fault", "show", "--json")
    assert len(r.json()["faults"]) == 3
    cli(home, "sandbox", "fault", "clear")
    assert ": good" in ocsp(live, "sign")[1] and ": good" in ocsp(live, "auth")[1]


def _fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def _crl_check(home, kind, der: bytes):
    (home / f"{kind}.crl").write_bytes(der)
    return run("openssl", "verify", "-crl_check", "-CAfile", home / f"{kind}-root.pem",
               "-CRLfile", home / f"{kind}.crl", home / f"{kind}.pem")


def test_crl_stale_then_fresh_again(cli, live):
    url, home, _ = live
    r = cli(home, "sandbox", "fault", "crl", "stale", "--json")
    assert r.json() == {**r.json(), "ocsp": "off", "crl": "stale"}
    code, ctype, der = _fetch(url + "/crl/auth.crl")
    assert code == 200 and ctype == "application/pkix-crl"
    out = _crl_check(home, "auth", der)
    assert out.returncode != 0 and "CRL has expired" in out.stdout + out.stderr
    cli(home, "sandbox", "fault", "crl", "off")
    code, _, der = _fetch(url + "/crl/auth.crl")
    out = _crl_check(home, "auth", der)
    assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("fault, status", [("missing", 404), ("unavailable", 503)])
def test_crl_missing_or_unavailable_for_one_authority(cli, live, fault, status):
    url, home, _ = live
    assert cli(home, "sandbox", "fault", "crl", fault, "--kind", "sign").code == 0
    code, ctype, body = _fetch(url + "/crl/sign.crl")
    assert code == status and ctype == "application/problem+json" and b"sandbox fault" in body
    assert _fetch(url + "/crl/auth.crl")[0] == 200  # the other authority is untouched


@pytest.mark.parametrize("args, message", [
    (("ocsp", "sometimes"), "must be one of"),
    (("ocsp", "delay"), "needs --delay-ms"),
    (("ocsp", "off", "--delay-ms", "5"), "delay --delay-ms"),
    (("crl", "stale", "--serial", "01"), "No such option"),
    (("ocsp", "tryLater", "--kind", "both"), "--kind must be sign or auth"),
    (("ocsp", "tryLater", "--serial", "zz"), "serial"),
    (("ocsp", "tryLater", "--serial", "abcdef"), "no certificate with serial"),
    (("ocsp", "tryLater", "--delay-ms", "70000"), "--delay-ms"),
])
def test_bad_fault_usage_is_one_line_exit_2(cli, live, args, message):
    r = cli(live[1], "sandbox", "fault", *args)
    assert r.code == 2 and message in r.err and r.err.count("\n") == 1, r.err


def test_faults_over_the_api(live):
    url, home, certs = live
    code, body = http_json("PUT", url + "/api/sandbox/faults/ocsp",
                           {"fault": "tryLater", "kind": "auth", "delay_ms": 100})
    assert code == 200 and body["ocsp"] == "tryLater" and body["scope"] == "auth"
    assert "trylater" in ocsp(live, "auth")[1]
    code, body = http_json("PUT", url + "/api/sandbox/faults/crl", {"fault": "missing"})
    assert code == 200 and body["crl"] == "missing"
    assert _fetch(url + "/crl/auth.crl")[0] == 404
    code, body = http_json("GET", url + "/api/sandbox/faults")
    assert {f["fault"] for f in body["faults"]} == {"tryLater", "missing"}
    assert http_json("PUT", url + "/api/sandbox/faults/ocsp", {"fault": "bogus"})[0] == 422
    assert http_json("PUT", url + "/api/sandbox/faults/ocsp",
                     {"fault": "tryLater", "serial": "ffff"})[0] == 400
    code, body = http_json("DELETE", url + "/api/sandbox/faults")
    assert code == 200 and body["faults"] == []
    assert ": good" in ocsp(live, "auth")[1]

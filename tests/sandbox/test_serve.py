"""``openjpki serve`` in its own process reads what ``openjpki sandbox …`` writes from another:
faults and the clock reach it within its sync interval; ``serve --production`` refuses the
API's sandbox calls and ignores the sandbox settings in the store."""

from __future__ import annotations

import urllib.request
from datetime import datetime, timedelta

import pytest
from cryptography import x509

from openjpki.services.authority_home import open_authorities

from serve_process import Serve

from .kit import free_socket, http_json, make_home, openssl_ocsp, wait_for, write_pem

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    home = tmp_path_factory.mktemp("serve") / "home"
    settings = make_home(home, f"http://127.0.0.1:{port}")
    return home, settings, port


def test_serve_sees_what_the_cli_writes_from_another_process(setup, cli):
    home, settings, port = setup
    made = cli(home, "sandbox", "resident", "create", "--json").json()["residents"][0]
    service = open_authorities(settings)
    auth = next(c for c in made["certificates"] if c["kind"] == "auth")["serial"]
    pem = write_pem(home / "auth.pem", service.get(auth).pem)
    service.store.dispose()

    serve = Serve(home, port)
    try:
        assert "sandbox mode (the embedded SQLite store)" in serve.log.read_text()
        assert ": good" in openssl_ocsp(serve.url, home, "auth", pem).stdout
        assert cli(home, "sandbox", "fault", "ocsp", "tryLater").code == 0
        assert wait_for(lambda: "trylater" in openssl_ocsp(serve.url, home, "auth", pem).stdout, 30)
        assert cli(home, "sandbox", "fault", "clear").code == 0
        now = datetime.fromisoformat(
            cli(home, "sandbox", "time", "advance", "30d", "--json").json()["now"])
        # the server's own clock (/healthz), which the CRL route reads, not the stored setting
        # (/api/sandbox/time): the server reads that at most every sync interval
        seen = wait_for(lambda: datetime.fromisoformat(
            http_json("GET", serve.url + "/healthz")[1]["time"]) >= now, 30)
        assert seen
        with urllib.request.urlopen(serve.url + "/crl/auth.crl", timeout=30) as r:
            crl = x509.load_der_x509_crl(r.read())
        assert abs(crl.last_update_utc - now) < timedelta(minutes=1)
        text = openssl_ocsp(serve.url, home, "auth", pem, "-validity_period", "5000000").stdout
        assert ": good" in text
    finally:
        serve.stop()



def test_serve_production_flag_refuses_the_api_and_ignores_the_settings(setup, cli, monkeypatch):
    """``serve --production`` wires production mode into the app it runs (uvicorn.run is
    replaced so the app can be driven in process)."""
    import uvicorn
    from fastapi.testclient import TestClient
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    home, settings, port = setup
    made = cli(home, "sandbox", "resident", "create", "--json").json()["residents"][0]
    assert cli(home, "sandbox", "fault", "ocsp", "internalError").code == 0
    assert cli(home, "sandbox", "time", "set", "2031-01-01").code == 0
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    monkeypatch.setenv("OPENJPKI_SERVICE_MODE", "")  # serve --production sets it: undone after
    try:
        r = cli(home, "serve", "--production", "--port", str(port))
        assert r.code == 0 and "production mode (serve --production)" in r.out
        service = open_authorities(settings)
        rec = service.get(made["certificates"][0]["serial"])
        req = ocsp.OCSPRequestBuilder().add_certificate(
            rec.certificate, service.root(rec.kind), hashes.SHA1()).build()
        with TestClient(served[0], raise_server_exceptions=False) as client:
            r = client.put("/api/sandbox/time", json={"now": "2030-01-01"})
            assert r.status_code == 403 and r.json()["title"] == "Sandbox mode only"
            answer = ocsp.load_der_ocsp_response(client.post(
                "/ocsp", content=req.public_bytes(serialization.Encoding.DER)).content)
        assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL  # no fault
        assert answer.this_update_utc.year < 2031  # the wall clock
        service.store.dispose()
    finally:
        cli(home, "sandbox", "fault", "clear")
        cli(home, "sandbox", "time", "reset")

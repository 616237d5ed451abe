"""CRLs over HTTP, /healthz, and RFC 9457 problem responses for every error."""

from datetime import timedelta

import pytest
from cryptography import x509
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.services.authority_testing import issue_sample
from openjpki.web import create_app

PROBLEM = "application/problem+json"


def crl_of(response):
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(response.content)


def number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_full_crls_are_served_signed_and_cached(client, authority, kind):
    crl = crl_of(client.get(f"/crl/{kind}.crl"))
    assert crl.is_signature_valid(authority.root(kind).public_key())
    assert crl.issuer == authority.root(kind).subject and len(crl) == 0
    again = crl_of(client.get(f"/crl/{kind}.crl"))
    assert number(again) == number(crl)  # nothing changed: the same CRL from memory


def test_a_revocation_gives_a_new_crl_with_a_higher_number(client, authority, clock):
    rec = issue_sample(authority, "sign", now=clock.now - timedelta(hours=1))
    before = crl_of(client.get("/crl/sign.crl"))
    part_before = crl_of(client.get(f"/crl/sign/{rec.partition}.crl"))
    authority.revoke(rec.serial, "affiliationChanged", at=clock.now)
    after = crl_of(client.get("/crl/sign.crl"))
    assert number(after) > number(before)
    assert [format(e.serial_number, "x") for e in after] == [rec.serial]
    part = crl_of(client.get(f"/crl/sign/{rec.partition}.crl"))
    assert number(part) > number(part_before) and len(part) == 1
    assert part.is_signature_valid(authority.root("sign").public_key())


def test_a_stale_crl_is_made_anew(client, clock):
    first = crl_of(client.get("/crl/auth.crl"))
    clock.advance(hours=19)  # less than a quarter of 24 h left
    second = crl_of(client.get("/crl/auth.crl"))
    assert number(second) > number(first)
    assert second.last_update_utc == clock.now


@pytest.mark.parametrize("path, status", [
    ("/crl/other.crl", 404), ("/crl/sign/0123456789abcdef.crl", 404),
    ("/crl/sign/NOT-A-PARTITION.crl", 404), ("/nowhere", 404),
])
def test_unknown_crls_and_paths_are_problems(client, path, status):
    r = client.get(path)
    assert r.status_code == status and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"


def test_wrong_method_is_a_problem(client):
    r = client.delete("/crl/sign.crl")
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM


def test_healthz(client, tmp_path, clock):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert [a["kind"] for a in r.json()["authorities"]] == ["sign", "auth"]
    with TestClient(create_app(Settings.resolve(tmp_path / "none"), clock=clock)) as c:
        r = c.get("/healthz")
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
        assert "init" in r.json()["detail"]
        assert c.get("/crl/sign.crl").status_code == 503


def _extension(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/api/test/boom")
    def boom() -> dict:
        raise RuntimeError("secret internals")

    @router.get("/api/test/count")
    def count(n: int) -> dict:
        return {"n": n}

    app.include_router(router)


def test_json_endpoints_answer_bad_input_and_crashes_with_problems(home, clock):
    app = create_app(home[0], clock=clock, extensions=[_extension])
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/test/count", params={"n": "many"})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["loc"] == ["query", "n"]
        r = c.get("/api/test/boom")
        assert r.status_code == 500 and r.headers["content-type"] == PROBLEM
        assert "secret internals" not in r.text and "Traceback" not in r.text
        assert c.get("/api/test/count", params={"n": 3}).json() == {"n": 3}
        assert c.get("/openapi.json").status_code == 200

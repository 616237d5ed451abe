"""The relying party's JSON API (/api/rp) and sample page (/rp/sample): registration with
SIGN, log-in with AUTH, replacement after a move, and the 401/404/409/410 problem responses."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from openjpki.pki import SignFacts
from openjpki.web import create_app
from openjpki.web.rp import install

from .conftest import AT, FACTS, NOW, sign
from .homekit import make_home

MOVED = SignFacts(name=FACTS.name, address="埼玉県川口市本町四丁目1番1号", birth_date=FACTS.birth_date, sex=FACTS.sex)
clock = [AT]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return make_home(tmp_path_factory.mktemp("rp-api-home"))


@pytest.fixture(scope="module")
def client(home):
    app = create_app(home.settings, clock=lambda: clock[0], extensions=[install])
    with TestClient(app) as c:
        yield c


@pytest.fixture(autouse=True)
def _reset_clock():
    clock[0] = AT
    yield
    clock[0] = AT


_residents = iter(range(1, 10_000))


@pytest.fixture
def holder(home, keys):
    """A resident with a SIGN and an AUTH certificate (the store links them by resident)."""
    rid = f"r{next(_residents)}"
    return dict(resident=rid, sign=home.issue("sign", keys["card"], facts=FACTS, resident_id=rid),
                auth=home.issue("auth", keys["card2"], resident_id=rid), sign_key=keys["card"],
                auth_key=keys["card2"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def challenge(client, purpose):
    r = client.post("/api/rp/challenges", json={"purpose": purpose})
    assert r.status_code == 201, r.text
    return r.json()


def signed(client, home, purpose, cert, key, *, tamper=False, **extra):
    c = challenge(client, purpose)
    data = c["challenge"].encode() + (b"!" if tamper else b"")
    body = {"challenge_id": c["challenge_id"], "signature": b64(sign(key, data)),
            "certificate": home.pem(cert).decode(), **extra}
    return c, body


def post(client, path, body, status):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == status
    return r.json()


def register(client, home, h, status=201, **kw):
    _, body = signed(client, home, "register", h["sign"], h["sign_key"], **kw)
    return post(client, "/api/rp/registrations", body, status)


def login(client, home, h, status=201, cert=None, key=None, **kw):
    _, body = signed(client, home, "login", cert or h["auth"], key or h["auth_key"], **kw)
    return post(client, "/api/rp/sessions", body, status)


def test_r1_1_register_with_sign_then_log_in_with_auth(client, home, holder):
    reg = register(client, home, holder)
    assert reg["facts"] == {"name": FACTS.name, "address": FACTS.address, "birth_date": "1988-02-29", "sex": 2}
    assert reg["sign_serial"] == format(holder["sign"].serial_number, "x") and reg["auth_serial"] is None
    session = login(client, home, holder)
    assert session["registration"]["id"] == reg["id"] and session["registration"]["sign_status"] == "good"
    assert session["registration"]["auth_serial"] == format(holder["auth"].serial_number, "x")
    headers = {"Authorization": f"Bearer {session['token']}"}
    me = client.get("/api/rp/session", headers=headers)
    assert me.status_code == 200 and me.json()["registration"]["facts"]["name"] == FACTS.name
    assert client.get(f"/api/rp/registrations/{reg['id']}", headers=headers).status_code == 200
    assert client.get("/api/rp/registrations/0123456789abcdef", headers=headers).status_code == 404
    assert client.get(f"/api/rp/registrations/{reg['id']}").status_code == 401
    assert client.delete("/api/rp/session", headers=headers).status_code == 204
    assert client.get("/api/rp/session", headers=headers).status_code == 401


def test_registration_can_pin_the_auth_certificate(client, home, keys):
    other = home.issue("auth", keys["card2"])  # a card without resident link in the store
    sign_cert = home.issue("sign", keys["card"], facts=FACTS)
    c = challenge(client, "register")
    data = c["challenge"].encode()
    body = {"challenge_id": c["challenge_id"], "signature": b64(sign(keys["card"], data)),
            "certificate": home.pem(sign_cert).decode(), "auth_signature": b64(sign(keys["card2"], data)),
            "auth_certificate": home.pem(other).decode()}
    reg = post(client, "/api/rp/registrations", body, 201)
    assert reg["auth_serial"] == format(other.serial_number, "x")
    h = dict(auth=other, auth_key=keys["card2"])
    assert login(client, home, h)["registration"]["id"] == reg["id"]


def test_409_already_registered(client, home, holder, keys):
    register(client, home, holder)
    problem = register(client, home, holder, status=409)
    assert problem["title"] == "Already registered" and problem["message_ja"]
    # another SIGN of the same holder is a replacement, not a second registration
    second = home.issue("sign", keys["card"], facts=FACTS, resident_id=holder["resident"])
    assert register(client, home, dict(holder, sign=second), status=409)["rule"] == "R4.5"


def test_404_log_in_without_registration(client, home, holder):
    problem = login(client, home, holder, status=404)
    assert problem["title"] == "Not registered"


@pytest.mark.parametrize("case", ["tampered", "sign key for log-in", "auth key for registration",
                                  "challenge reused", "challenge for another purpose", "challenge expired"])
def test_401_bad_signature_wrong_key_or_bad_challenge(client, home, holder, case):
    register(client, home, holder)
    if case == "tampered":
        assert login(client, home, holder, status=401, tamper=True)["verification_status"] == "bad-signature"
    elif case == "sign key for log-in":
        assert login(client, home, holder, status=401, cert=holder["sign"], key=holder["sign_key"])["rule"] == "R1.1"
    elif case == "auth key for registration":
        _, body = signed(client, home, "register", holder["auth"], holder["auth_key"])
        assert post(client, "/api/rp/registrations", body, 401)["rule"] == "R1.1"
    elif case == "challenge reused":
        _, body = signed(client, home, "login", holder["auth"], holder["auth_key"])
        post(client, "/api/rp/sessions", body, 201)
        assert "already used" in post(client, "/api/rp/sessions", body, 401)["detail"]
    elif case == "challenge for another purpose":
        _, body = signed(client, home, "register", holder["auth"], holder["auth_key"])
        post(client, "/api/rp/sessions", body, 401)
    else:
        _, body = signed(client, home, "login", holder["auth"], holder["auth_key"])
        clock[0] = AT + timedelta(minutes=6)
        assert "expired" in post(client, "/api/rp/sessions", body, 401)["detail"]


@pytest.mark.parametrize("change, verdict, rule", [("affiliationChanged", "revoked", "R4.1"), ("hold", "hold", "R4.3"),
                                                   ("keyCompromise", "revoked", "R4.3"),
                                                   ("cessationOfOperation", "revoked", "R4.3")])
def test_410_revoked_or_held_certificate(client, home, holder, change, verdict, rule):
    serial = format(holder["sign"].serial_number, "x")
    if change == "hold":
        home.service.hold(serial, at=NOW)
    else:
        home.service.revoke(serial, change, at=NOW)
    problem = register(client, home, holder, status=410)
    assert (problem["verification_status"], problem["rule"]) == (verdict, rule)


def test_410_expired(client, home, keys):
    cert = home.issue("sign", keys["card"], facts=FACTS, last_valid_day=date(2025, 4, 1))
    clock[0] = AT + timedelta(days=2)
    assert register(client, home, dict(sign=cert, sign_key=keys["card"]), status=410)["verification_status"] == "expired"


def test_r4_1_replacement_after_a_move(client, home, holder, keys):
    reg = register(client, home, holder)
    # still good: nothing to replace
    new_early = home.issue("sign", keys["card"], facts=MOVED, resident_id=holder["resident"])
    _, body = signed(client, home, "replace", new_early, keys["card"])
    assert post(client, "/api/rp/replacements", body, 409)["title"] == "Nothing to replace"
    # the move revokes the old SIGN (R4.1); log-in still works (AUTH stays good, R4.2) and says so
    home.service.revoke(reg["sign_serial"], "affiliationChanged", at=NOW)
    assert login(client, home, holder)["registration"]["sign_status"] == "revoked"
    new = home.issue("sign", keys["card"], facts=MOVED, resident_id=holder["resident"])
    _, body = signed(client, home, "replace", new, keys["card"])
    replaced = post(client, "/api/rp/replacements", body, 200)
    assert replaced["id"] == reg["id"] and replaced["replaced"] == [reg["sign_serial"]]
    assert replaced["facts"]["address"] == MOVED.address
    assert replaced["sign_serial"] == format(new.serial_number, "x")
    assert login(client, home, holder)["registration"]["sign_status"] == "good"
    # the new certificate again: already registered; the old one: revoked (410)
    _, body = signed(client, home, "replace", new, keys["card"])
    assert post(client, "/api/rp/replacements", body, 409)["title"] == "Already registered"
    assert register(client, home, holder, status=410)["verification_status"] == "revoked"


def test_replacement_by_an_unlinked_holder_is_404(client, home, keys):
    stranger = home.issue("sign", keys["card"], facts=MOVED, resident_id="r-unregistered")
    _, body = signed(client, home, "replace", stranger, keys["card"])
    assert post(client, "/api/rp/replacements", body, 404)["title"] == "Not registered"


def test_r3_7_renewal_supersedes_and_replaces(client, home, holder, keys):
    """A renewal (R3.7) supersedes the old certificate; the renewed one replaces it, and the
    old one is then refused as gone (410)."""
    reg = register(client, home, holder)
    renewed = home.issue("sign", keys["card"], facts=FACTS, resident_id=holder["resident"], supersede=True)
    _, body = signed(client, home, "replace", renewed, keys["card"])
    assert post(client, "/api/rp/replacements", body, 200)["replaced"] == [reg["sign_serial"]]
    problem = register(client, home, holder, status=410)
    assert (problem["verification_status"], problem["rule"]) == ("revoked", "R3.7")


@pytest.mark.parametrize("body, status", [
    ({"purpose": "delete"}, 422),
    ({}, 422),
])
def test_bad_challenge_requests(client, body, status):
    r = client.post("/api/rp/challenges", json=body)
    assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json")


def test_bad_base64_is_422(client):
    c = challenge(client, "login")
    r = client.post("/api/rp/sessions", json={"challenge_id": c["challenge_id"], "signature": "***"})
    assert r.status_code == 422


def test_sample_page_logs_a_holder_in(client, home, holder):
    register(client, home, holder)
    assert "Log in" in client.get("/rp/sample").text
    page = client.post("/rp/sample/challenge", data={"purpose": "login"}).text
    text = page.split('<pre id="challenge">', 1)[1].split("</pre>", 1)[0]
    cid = page.split('name="challenge_id" value="', 1)[1].split('"', 1)[0]
    sig_json = json.dumps({"signature": b64(sign(holder["auth_key"], text.encode())),
                           "certificate": home.pem(holder["auth"]).decode()})
    done = client.post("/rp/sample/submit", data={"challenge_id": cid, "purpose": "login"},
                       files={"signature": ("signature.json", sig_json.encode(), "application/json")})
    assert done.status_code == 200 and f'<strong id="who">{FACTS.name}</strong>' in done.text
    again = client.post("/rp/sample/submit", data={"challenge_id": cid, "purpose": "login"},
                        files={"signature": ("signature.json", sig_json.encode(), "application/json")})
    assert again.status_code == 401 and "already used" in again.text

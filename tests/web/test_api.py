"""The counter's scenarios through the JSON API: every procedure's success and its main
refusal (the rule in an RFC 9457 problem body), register events with OCSP over POST /ocsp,
the deferred queue (R5.9), and bad input answered 4xx naming the field — never a 500.

Speed only: the cards draw their "new" RSA keys from a pool made once for the module
(generation costs ~0.2 s a key here); everything else is the real application on a real
home (SQLite), driven over HTTP by Starlette's test client.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.rules import JST
from openjpki.services.authority_home import initialise_home, open_authorities
from openjpki.web import create_app
from openjpki.web.api import api_extension

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)  # a Tuesday morning: city hall is open
PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}
PROBLEM = "application/problem+json"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def key_pool():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(12)]


@pytest.fixture(scope="module")
def home(tmp_path_factory, key_pool):
    from openjpki.card import rsaops

    pool = itertools.cycle(key_pool)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rsaops, "generate_key", lambda: next(pool))
        h = tmp_path_factory.mktemp("api-home")
        settings = Settings.resolve(h)
        initialise_home(settings, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
        yield settings


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def client(home, clock):
    app = create_app(home, clock=clock, sync_interval=0.0, extensions=[api_extension])
    with TestClient(app, raise_server_exceptions=False) as c:
        c.app_state = app.state
        yield c


@pytest.fixture(autouse=True)
def _reset(clock, client):
    clock.now = T0
    client.put("/api/authorities/availability", json={"available": True})
    yield


_names = itertools.count(1)


def resident(client, **kw) -> int:
    body = {"name": f"試験　{next(_names)}", "address": "埼玉県川口市青木二丁目1番1号",
            "birth_date": "1980-05-15", "sex": "male", **kw}
    r = client.post("/api/residents", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def holder(client, **kw) -> tuple[int, dict]:
    rid = resident(client, **kw)
    r = client.post("/api/counter/issuance", json={"resident_id": rid, "pins": PINS})
    assert r.status_code == 200, r.text
    return rid, r.json()


def serials(body: dict) -> dict:
    return {c["kind"]: c["serial"] for c in body["issued"]}


def refused(r, status: int, rule: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["rule"] == rule, body
    assert body["message_ja"] and body["message_en"] and body["status"] == status
    assert body["type"].endswith("/refused")
    return body


def ocsp_status(client, home, serial: str) -> tuple[str, str | None]:
    """What a relying party sees over POST /ocsp."""
    shown = client.get(f"/api/certificates/{serial}").json()
    cert = x509.load_pem_x509_certificate(shown["pem"].encode())
    service = open_authorities(home)
    try:
        issuer = service.root(shown["kind"])
    finally:
        service.store.dispose()
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    r = client.post("/ocsp", content=req.public_bytes(serialization.Encoding.DER),
                    headers={"content-type": "application/ocsp-request"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/ocsp-response"
    resp = ocsp.load_der_ocsp_response(r.content)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    reason = resp.revocation_reason.value if resp.revocation_reason else None
    return resp.certificate_status.name.lower(), reason


# --- issuance ---------------------------------------------------------------------------------

def test_R5_10_issuance_makes_a_card_with_both_certificates(client):
    rid, body = holder(client)
    assert body["outcome"] == "completed" and sorted(serials(body)) == ["auth", "sign"]
    shown = client.get(f"/api/residents/{rid}").json()
    card = shown["cards"][0]
    assert card["virtual_card_id"] == body["virtual_card_id"]
    assert {c["kind"]: c["status"] for c in card["certificates"]} == {"sign": "good",
                                                                      "auth": "good"}
    certs = client.get(f"/api/residents/{rid}/certificates").json()
    assert sorted(c["kind"] for c in certs) == ["auth", "sign"]
    assert all(c["pem"].startswith("-----BEGIN CERTIFICATE-----") for c in certs)


@pytest.mark.parametrize("pins, rule", [
    ({**PINS, "sign": "abc"}, "R1.3"),
    ({**PINS, "auth": "12345"}, "R1.3"),
    ({**PINS, "card": "12"}, "R1.6"),
])
def test_R1_3_R1_6_issuance_with_a_malformed_pin_is_refused_422(client, pins, rule):
    rid = resident(client)
    refused(client.post("/api/counter/issuance", json={"resident_id": rid, "pins": pins}),
            422, rule)


def test_R1_5_a_child_applying_alone_is_refused_with_what_is_missing(client):
    rid = resident(client, birth_date="2015-06-01")
    body = refused(client.post("/api/counter/issuance", json={"resident_id": rid,
                                                              "pins": PINS}), 422, "R1.5")
    assert [m["item"] for m in body["missing"]] == ["legal_representative"]


def test_R1_5_a_child_by_the_parent_gets_auth_only(client):
    head = resident(client, household_id="HAPI1")
    child = resident(client, birth_date="2015-06-01", household_id="HAPI1",
                     relationship="child")
    applicant = {"type": "legal_representative", "representative_id": head,
                 "ids": [{"kind": "drivers_licence", "valid_until": "2030-01-01"}]}
    r = client.post("/api/counter/issuance", json={"resident_id": child, "pins": PINS,
                                                   "applicant": applicant})
    assert r.status_code == 200, r.text
    assert list(serials(r.json())) == ["auth"]


def test_R5_8_the_counter_is_closed_at_night(client, clock):
    rid = resident(client)
    clock.now = T0.replace(hour=21)
    body = refused(client.post("/api/counter/issuance", json={"resident_id": rid,
                                                              "pins": PINS}), 409, "R5.8")
    assert body["opens_at"].startswith("2025-04-02T08:30")
    assert body["opens_on"] == "2025-04-02"


# --- renewal ----------------------------------------------------------------------------------

def test_R3_1_R3_2_renewal_before_the_window_is_refused_then_done_inside_it(client, clock):
    rid, first = holder(client)
    body = refused(client.post("/api/counter/renewal", json={"resident_id": rid,
                                                             "pins": PINS}), 409, "R3.2")
    expiry = date.fromisoformat(first["issued"][0]["not_after"])
    assert body["opens_on"] == "2029-02-16" and expiry == date(2029, 5, 15)
    clock.now = datetime(2029, 2, 16, 10, 0, tzinfo=JST)  # a Friday, the day it opens
    r = client.post("/api/counter/renewal", json={"resident_id": rid, "pins": PINS})
    assert r.status_code == 200, r.text
    ended = {e["serial"]: e for e in r.json()["ended"]}
    assert set(ended) == set(serials(first).values())
    assert {e["reason"] for e in ended.values()} == {"superseded"}  # R3.7


# --- R4.1 move, OCSP, and the R4.5 re-issue ----------------------------------------------------

def test_R4_1_R4_2_R4_5_move_revokes_sign_over_ocsp_and_the_reissue_has_the_new_address(
        client, home):
    from openjpki.pki import read_sign_facts

    rid, first = holder(client)
    s = serials(first)
    assert ocsp_status(client, home, s["sign"]) == ("good", None)
    refused(client.post("/api/counter/sign-reissue", json={"resident_id": rid,
                                                           "pins": PINS}), 409, "R4.5")
    new_address = "埼玉県川口市栄町三丁目3番3号"
    r = client.post(f"/api/residents/{rid}/events/move", json={"address": new_address})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert [e["serial"] for e in moved["ended"]] == [s["sign"]]
    assert moved["offers"][0]["procedure"] == "reissue_after_change"
    assert ocsp_status(client, home, s["sign"]) == ("revoked", "affiliationChanged")
    assert ocsp_status(client, home, s["auth"]) == ("good", None)
    # R5.2: the card face is out of date until 記載事項変更.
    refused(client.post("/api/counter/sign-reissue", json={"resident_id": rid,
                                                           "pins": PINS}), 409, "R5.2")
    assert client.post(f"/api/residents/{rid}/events/card-particulars").status_code == 200
    r = client.post("/api/counter/sign-reissue", json={"resident_id": rid, "pins": PINS})
    assert r.status_code == 200, r.text
    new_sign = serials(r.json())["sign"]
    pem = client.get(f"/api/certificates/{new_sign}").json()["pem"]
    facts = read_sign_facts(x509.load_pem_x509_certificate(pem.encode()))
    assert facts.address == new_address
    assert ocsp_status(client, home, new_sign) == ("good", None)


def test_R4_1_name_change_and_corrections_revoke_sign(client):
    rid, first = holder(client)
    r = client.post(f"/api/residents/{rid}/events/name-change", json={"name": "鈴木　太郎"})
    assert r.status_code == 200 and r.json()["ended"][0]["reason"] == "affiliationChanged"
    r = client.post(f"/api/residents/{rid}/events/name-change", json={"name": "鈴木　太郎"})
    assert r.status_code == 400 and r.json()["type"].endswith("/invalid-input")
    assert client.post(f"/api/residents/{rid}/events/sex-correction",
                       json={"sex": "female"}).status_code == 200
    assert client.post(f"/api/residents/{rid}/events/birth-date-correction",
                       json={"birth_date": "1980-05-16"}).status_code == 200
    assert client.post(f"/api/residents/{rid}/events/move-in",
                       json={"address": "埼玉県川口市本町一丁目1番1号"}).status_code == 200


# --- PINs -------------------------------------------------------------------------------------

def test_R1_7_pin_change_with_the_current_pin_and_R1_4_a_wrong_one(client):
    rid, _ = holder(client)
    body = refused(client.post("/api/counter/pin-change", json={
        "resident_id": rid, "kind": "auth", "current_pin": "0000", "new_pin": "2468"}),
        409, "R1.4")
    assert "2 more" in body["message_en"]
    r = client.post("/api/counter/pin-change", json={
        "resident_id": rid, "kind": "auth", "current_pin": "5678", "new_pin": "2468"})
    assert r.status_code == 200 and r.json()["pins_set"] == ["auth"]


def test_R6_5_pin_reset_with_the_registry_pin_and_R1_4_a_wrong_registry_pin(client):
    rid, _ = holder(client)
    refused(client.post("/api/counter/pin-reset", json={
        "resident_id": rid, "kind": "sign", "card_pin": "9999", "new_pin": "NEW123"}),
        409, "R1.4")
    r = client.post("/api/counter/pin-reset", json={
        "resident_id": rid, "kind": "sign", "card_pin": "1234", "new_pin": "NEW123"})
    assert r.status_code == 200, r.text
    assert r.json()["rule"] == "R6.5"


# --- revocation and hold -------------------------------------------------------------------

def test_R4_3_revocation_is_final(client, home):
    rid, first = holder(client)
    r = client.post("/api/counter/revocation", json={"resident_id": rid, "kinds": ["auth"]})
    assert r.status_code == 200, r.text
    assert r.json()["ended"][0]["reason"] == "cessationOfOperation"
    assert ocsp_status(client, home, serials(first)["auth"])[0] == "revoked"
    refused(client.post("/api/counter/revocation", json={"resident_id": rid,
                                                         "kinds": ["auth"]}), 409, "R4.3")


def test_R4_3_hold_is_published_and_never_released(client, home):
    rid, first = holder(client)
    r = client.post("/api/counter/hold", json={"resident_id": rid, "kinds": ["sign"]})
    assert r.status_code == 200, r.text
    assert ocsp_status(client, home, serials(first)["sign"]) == ("revoked", "certificateHold")
    refused(client.post("/api/counter/hold", json={"resident_id": rid, "kinds": ["sign"]}),
            409, "R4.3")
    listed = client.get("/api/certificates", params={"resident_id": rid, "status": "hold"})
    assert [c["serial"] for c in listed.json()] == [serials(first)["sign"]]


# --- the voluntary proxy's two visits (R5.4) ------------------------------------------------

def test_R5_4_voluntary_proxy_two_visits(client):
    rid, first = holder(client)
    assert client.post("/api/counter/revocation", json={
        "resident_id": rid, "kinds": ["sign"]}).status_code == 200
    proxy_ids = [{"kind": "passport", "valid_until": "2031-01-01"}]
    body = refused(client.post("/api/counter/proxy/visit-1", json={
        "resident_id": rid, "procedure": "new_issuance", "kinds": ["sign"]}), 422, "R5.4")
    assert body["missing"]
    r = client.post("/api/counter/proxy/visit-1", json={
        "resident_id": rid, "procedure": "new_issuance", "kinds": ["sign"],
        "applicant": {"ids": proxy_ids}})
    assert r.status_code == 202, r.text
    mailed = r.json()
    assert mailed["outcome"] == "inquiry_mailed" and mailed["rule"] == "R5.4"
    letters = client.get(f"/api/residents/{rid}/letters").json()
    assert letters[-1]["reference"] == mailed["reference"]
    visit2 = {"resident_id": rid, "procedure": "new_issuance", "kinds": ["sign"],
              "applicant": {"ids": proxy_ids}, "reference": mailed["reference"]}
    refused(client.post("/api/counter/proxy/visit-2", json={**visit2, "sealed": False,
                                                            "pins": PINS}), 422, "R5.4")
    r = client.post("/api/counter/proxy/visit-2", json={**visit2, "pins": {
        "card": "0000", "sign": "XYZ789"}})
    assert r.status_code == 202 and r.json()["restarted"] is True  # PINs did not match
    again = r.json()["reference"]
    r = client.post("/api/counter/proxy/visit-2", json={**visit2, "reference": again,
                                                        "pins": {"card": "1234",
                                                                 "sign": "XYZ789"}})
    assert r.status_code == 200, r.text
    assert list(serials(r.json())) == ["sign"]


# --- deferred work (R5.9) ---------------------------------------------------------------------

def test_R5_9_deferred_through_the_api_and_completed_by_the_worker(client):
    from openjpki.services.deferred_worker import DeferredWorker

    rid = resident(client)
    r = client.put("/api/authorities/availability", json={"available": False,
                                                          "reason": "central maintenance"})
    assert r.status_code == 200 and r.json()["available"] is False
    r = client.post("/api/counter/issuance", json={"resident_id": rid, "pins": PINS})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["outcome"] == "deferred" and body["rule"] == "R5.9"
    item = client.get(f"/api/deferred/{body['item_id']}").json()
    assert item["state"] == "queued" and item["pins_held"] is True
    assert "pins" not in item and "1234" not in r.text + str(item)
    app = client.get(f"/api/applications/{body['application_id']}").json()
    assert app["state"] == "accepted" and app["deferred"]["id"] == body["item_id"]
    assert client.get("/api/deferred", params={"state": "queued"}).json()["counts"]["queued"] >= 1

    st = client.app_state.openjpki_api
    worker = DeferredWorker(st.counter(), st.health, clock=st.now)
    assert worker.run_once() is None  # the authorities are still off
    assert client.put("/api/authorities/availability",
                      json={"available": True}).status_code == 200
    assert worker.drain().get("done", 0) >= 1
    item = client.get(f"/api/deferred/{body['item_id']}").json()
    assert item["state"] == "done" and item["pins_held"] is False
    letter = client.get(f"/api/letters/{item['letter_id']}").json()
    assert letter["kind"] == "card_return" and letter["payload"]["delivery"] == "本人限定郵便"
    assert client.get("/api/letters", params={"resident_id": rid, "kind": "card_return"}
                      ).json()[0]["id"] == letter["id"]
    assert client.get("/api/audit/verify").json()["ok"] is True


def test_pin_change_is_done_at_once_even_while_the_authorities_are_off(client):
    rid, _ = holder(client)
    client.put("/api/authorities/availability", json={"available": False})
    r = client.post("/api/counter/pin-change", json={
        "resident_id": rid, "kind": "sign", "current_pin": "ABC123", "new_pin": "DEF456"})
    assert r.status_code == 200 and r.json()["outcome"] == "completed"


# --- bad input: 4xx naming the field or the rule, never a 500 ----------------------------------

@pytest.mark.parametrize("path, body, field", [
    ("/api/residents", {"name": "x", "address": "y", "sex": "male"}, "body.birth_date"),
    ("/api/residents", {"name": "x", "address": "y", "birth_date": "1980-13-01",
                        "sex": "male"}, "body.birth_date"),
    ("/api/residents", {"name": "x\u0000", "address": "y", "birth_date": "1980-01-01",
                        "sex": "male"}, "body.name"),
    ("/api/residents", {"name": "x", "address": "y", "birth_date": "1980-01-01",
                        "sex": "male", "colour": "blue"}, "body.colour"),
    ("/api/counter/issuance", {"resident_id": 2 ** 40}, "body.resident_id"),
    ("/api/counter/issuance", {"resident_id": 1, "kinds": ["both"]}, "body.kinds.0"),
    ("/api/counter/pin-change", {"resident_id": 1, "kind": "auth"}, "body.current_pin"),
    ("/api/counter/revocation", {"resident_id": 1, "reason": "bored"}, "body.reason"),
])
def test_invalid_bodies_are_422_problems_naming_the_field(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    p = r.json()
    assert field in p["fields"] and field in p["detail"] + " ".join(p["fields"])


@pytest.mark.parametrize("method, path", [
    ("get", "/api/residents/999999"), ("get", "/api/cards/999999"),
    ("get", "/api/deferred/999999"), ("get", "/api/letters/999999"),
    ("get", "/api/applications/999999"), ("get", "/api/certificates/abcdef"),
    ("get", "/api/residents/999999/letters"), ("post", "/api/deferred/999999/requeue"),
    ("post", "/api/residents/999999/events/card-particulars"),
])
def test_unknown_ids_are_404_problems(client, method, path):
    r = getattr(client, method)(path)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith(PROBLEM) and r.json()["type"].endswith(
        "/not-found")


def test_procedures_on_an_unknown_resident_are_404(client):
    r = client.post("/api/counter/issuance", json={"resident_id": 999999, "pins": PINS})
    assert r.status_code == 404, r.text


def test_a_card_of_someone_else_is_400(client):
    _, other = holder(client)
    rid = resident(client)
    r = client.post("/api/counter/issuance", json={"resident_id": rid, "new_card": False,
                                                   "card_id": other["card_id"],
                                                   "pins": PINS})
    assert r.status_code == 400 and "not a card of resident" in r.json()["detail"]


def test_the_openapi_description_lists_every_endpoint_with_problem_answers(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/residents", "/api/residents/{resident_id}", "/api/counter/issuance",
              "/api/counter/renewal", "/api/counter/sign-reissue", "/api/counter/pin-change",
              "/api/counter/pin-reset", "/api/counter/revocation", "/api/counter/hold",
              "/api/counter/proxy/visit-1", "/api/counter/proxy/visit-2",
              "/api/residents/{resident_id}/events/move", "/api/deferred",
              "/api/deferred/{item_id}", "/api/letters", "/api/audit/verify",
              "/api/certificates", "/api/authorities/availability"):
        assert p in paths, p
    issuance = paths["/api/counter/issuance"]["post"]
    assert {"200", "202", "404", "409", "422"} <= set(issuance["responses"])
    assert "application/problem+json" in issuance["responses"]["409"]["content"]
    schema = spec["components"]["schemas"]["IssuanceIn"]
    assert schema["additionalProperties"] is False
    assert client.get("/docs").status_code == 200


def test_R2_3_stay_extension_event(client):
    """在留期間の更新 over the API: nothing revoked, the card follows the new period (R2.3);
    bad input is a problem response."""
    rid, first = holder(client, foreign_resident=True, stay_until="2025-06-30")
    assert {c["not_after"] for c in first["issued"]} == {"2025-06-30"}
    r = client.post(f"/api/residents/{rid}/events/stay-extension",
                    json={"stay_until": "2028-06-30"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["event"], body["rule"], body["ended"]) == ("stay_extension", "R2.3", [])
    assert body["cards"][0]["to"] == "2028-06-30"
    r = client.post(f"/api/residents/{rid}/events/stay-extension",
                    json={"stay_until": "2027-01-01"})
    assert r.status_code == 400 and r.json()["type"].endswith("/invalid-input")
    r = client.post(f"/api/residents/{rid}/events/stay-extension", json={"until": "x"})
    assert r.status_code == 422


def test_R3_6_a_paid_card_reissue_through_the_api_costs_the_fee(client):
    """paid_card_reissue: the new card is a paid re-issue, so its certificates cost 200 yen
    (details.fee); without it issuance is free; with new_card false it is a 400 problem."""
    paid = client.post("/api/counter/issuance", json={
        "resident_id": resident(client), "pins": PINS, "paid_card_reissue": True})
    assert paid.status_code == 200, paid.text
    assert paid.json()["fee"] == 200 and paid.json()["fee_reason"] == "card_reissue"
    rid, free = holder(client)
    assert free["fee"] == 0 and free["fee_reason"] is None
    r = client.post("/api/counter/issuance", json={
        "resident_id": rid, "new_card": False, "kinds": ["sign"], "pins": PINS,
        "paid_card_reissue": True})
    assert r.status_code == 400 and "paid_card_reissue" in r.json()["detail"], r.text

"""State on demand, bypassing the counter and audited as sandbox actions: residents with
cards in any state or combination (table by state), PIN tries and blocks (R1.4) on the card,
revocations and holds with any reason at any date (R4.3 still holds), the end of a card
(R4.4), and changes of facts as register events (R4.1, R4.2) — each seen through the
running app's OCSP responder and CRLs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from fastapi.testclient import TestClient
from sqlalchemy import select

from openjpki.card import CardStore, PinBlocked, sign_file_data
from openjpki.rules import JST
from openjpki.services.audit import AuditEntry, verify
from openjpki.services.authority_home import open_authorities
from openjpki.services.demo import DEMO_PINS
from openjpki.services.sandbox_clock import reset_clock

from .kit import make_home, real_now, sandbox_app


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("state") / "home"
    settings = make_home(home)
    service = open_authorities(settings)
    with TestClient(sandbox_app(settings), raise_server_exceptions=False) as client:
        yield home, settings, service, client
    service.store.dispose()


@pytest.fixture(autouse=True)
def _real_clock(env):
    yield
    reset_clock(env[2].store, real=real_now())


def create(env, *states):
    r = env[3].post("/api/sandbox/residents", json={"states": list(states)})
    assert r.status_code == 201, r.text
    return r.json()["residents"][0]


def card(env, card_id):
    r = env[3].get(f"/api/sandbox/cards/{card_id}")
    assert r.status_code == 200, r.text
    return r.json()


def certs(made) -> dict:
    return {c["kind"]: c for c in made["certificates"] if c["current"]}


def ocsp_of(env, serial) -> ocsp.OCSPResponse:
    _, _, service, client = env
    rec = service.get(serial)
    req = (ocsp.OCSPRequestBuilder().add_certificate(rec.certificate, service.root(rec.kind),
                                                     hashes.SHA1()).build())
    r = client.post("/ocsp", content=req.public_bytes(serialization.Encoding.DER),
                    headers={"Content-Type": "application/ocsp-request"})
    return ocsp.load_der_ocsp_response(r.content)


def crl_entry(env, kind, serial):
    crl = x509.load_der_x509_crl(env[3].get(f"/crl/{kind}.crl").content)
    return crl.get_revoked_certificate_by_serial_number(int(serial, 16))


# --- residents in given states ------------------------------------------------------------

def _today() -> date:
    return real_now().astimezone(JST).date()


EXPECTED = {
    # state: ({kind: (status, reason)}, {pin kind: tries left}, card state)
    "valid": ({"sign": ("good", None), "auth": ("good", None)}, {"sign": 5, "auth": 3}, "active"),
    "renewal_window": ({"sign": ("good", None), "auth": ("good", None)}, {}, "active"),
    "expired": ({"sign": ("good", None), "auth": ("good", None)}, {}, "active"),
    "under_15": ({"auth": ("good", None)}, {"auth": 3}, "active"),
    "adult_ward": ({"auth": ("good", None)}, {"auth": 3}, "active"),
    "sign_revoked_by_move": ({"sign": ("revoked", "affiliationChanged"), "auth": ("good", None)},
                             {}, "active"),
    "on_hold": ({"sign": ("hold", "certificateHold"), "auth": ("hold", "certificateHold")}, {},
                "active"),
    "revoked": ({"sign": ("revoked", "cessationOfOperation"),
                 "auth": ("revoked", "cessationOfOperation")}, {}, "active"),
    "card_lost": ({"sign": ("revoked", "keyCompromise"), "auth": ("revoked", "keyCompromise")},
                  {}, "lost"),
    "auth_locked": ({"sign": ("good", None), "auth": ("good", None)}, {"auth": 0, "sign": 5},
                    "active"),
    "sign_locked": ({"sign": ("good", None), "auth": ("good", None)}, {"sign": 0, "auth": 3},
                    "active"),
}


@pytest.mark.parametrize("state", list(EXPECTED))
def test_resident_in_each_state(env, state):
    made = create(env, state.replace("_", "-"))
    statuses, tries, card_state = EXPECTED[state]
    got = {k: (c["status"], c["reason"]) for k, c in certs(made).items()}
    assert got == statuses
    view = card(env, made["card_id"])
    assert view["state"] == card_state
    for kind, left in tries.items():
        assert view["pins"][kind]["tries_left"] == left
    assert made["state"] == state and made["pins"]["auth"] == DEMO_PINS["auth"]
    assert (made["pins"]["sign"] is None) == (state in ("under_15", "adult_ward"))  # R1.5
    ends = {date.fromisoformat(c["not_after"]) for c in certs(made).values()}
    if state == "renewal_window":
        assert ends == {_today() + timedelta(days=45)}  # R2.3: the stay ends
    elif state == "expired":
        assert max(ends) < _today()
    else:
        assert min(ends) > _today() + timedelta(days=365)
    # what the relying party sees over OCSP
    for kind, (status, reason) in statuses.items():
        answer = ocsp_of(env, certs(made)[kind]["serial"])
        assert answer.certificate_status.name.lower() == ("good" if status == "good" else "revoked")
        if status != "good":
            assert answer.revocation_reason.value == reason


@pytest.mark.parametrize("states, check", [
    (("expired", "auth-locked"), lambda m, v: v["pins"]["auth"]["tries_left"] == 0
     and max(c["not_after"] for c in m["certificates"]) < _today().isoformat()),
    (("under-15", "on-hold"), lambda m, v: [c["status"] for c in m["certificates"]] == ["hold"]),
    (("sign-revoked-by-move", "auth-locked", "on-hold"),
     lambda m, v: {(c["kind"], c["status"], c["reason"]) for c in m["certificates"]}
     == {("sign", "revoked", "affiliationChanged"), ("auth", "hold", "certificateHold")}
     and v["pins"]["auth"]["tries_left"] == 0),
    (("renewal-window", "card-lost", "sign-locked"),
     lambda m, v: v["state"] == "lost" and v["pins"]["sign"]["tries_left"] == 0),
])
def test_states_combine(env, states, check):
    made = create(env, *states)
    assert check(made, card(env, made["card_id"])), made


@pytest.mark.parametrize("states, message", [
    (("expired", "renewal-window"), "cannot be combined"),
    (("on-hold", "revoked"), "cannot be combined"),
    (("valid", "auth-locked"), "valid is a state of its own"),
    (("under-15", "sign-locked"), "R1.5"),
    (("adult-ward", "sign-revoked-by-move"), "R1.5"),
    (("broken",), "unknown state"),
])
def test_impossible_states_are_refused_as_bad_input(env, cli, states, message):
    r = env[3].post("/api/sandbox/residents", json={"states": list(states)})
    assert r.status_code == 400 and message in r.json()["detail"]
    args = [a for s in states for a in ("--state", s)]
    out = cli(env[0], "sandbox", "resident", "create", *args)
    assert out.code == 2 and message in out.err and out.err.count("\n") == 1


def test_cli_resident_create_prints_the_demo_shape(env, cli):
    r = cli(env[0], "sandbox", "resident", "create", "--state", "auth-locked", "--name",
            "試験　一郎", "--json")
    assert r.code == 0, r.err
    one = r.json()["residents"][0]
    assert {"id", "name", "state", "card_id", "pins"} <= set(one)
    assert one["name"] == "試験　一郎" and one["state"] == "auth_locked"


# --- PIN tries (R1.4) ---------------------------------------------------------------------

def test_R1_4_pin_tries_set_blocked_and_unblocked_on_the_card(env, cli):
    home, settings = env[0], env[1]
    made = create(env, "valid")
    cid = made["card_id"]
    r = cli(home, "sandbox", "pin", cid, "--kind", "sign", "--tries", "2", "--json")
    assert r.code == 0 and r.json()["tries_left"] == 2 and not r.json()["locked"]
    r = cli(home, "sandbox", "pin", cid, "--kind", "auth", "--block", "--json")
    assert r.json()["tries_left"] == 0 and r.json()["locked"]
    cards = CardStore(settings.cards_dir)
    vc = cards.open(cid)
    try:
        vc.power_on()
        with pytest.raises(PinBlocked):  # the card itself refuses even the right PIN
            sign_file_data(vc, "auth", DEMO_PINS["auth"], b"x")
        r = cli(home, "sandbox", "pin", cid, "--kind", "auth", "--unblock")
        assert r.code == 2 and "in use" in r.err  # a card in a reader cannot be changed
    finally:
        vc.close()
    r = cli(home, "sandbox", "pin", cid, "--kind", "auth", "--unblock", "--json")
    assert r.json()["tries_left"] == 3
    vc = cards.open(cid)
    try:
        vc.power_on()
        sign_file_data(vc, "auth", DEMO_PINS["auth"], b"x")  # the PIN is unchanged
    finally:
        vc.close()
    r = env[3].put(f"/api/sandbox/cards/{cid}/pins/sign", json={"tries_left": 0})
    assert r.status_code == 200 and r.json()["locked"]
    assert card(env, cid)["pins"]["sign"]["tries_left"] == 0


@pytest.mark.parametrize("kind, limit", [("card", 3), ("input", 3), ("face_b", 10)])
def test_R1_6_the_sandbox_api_sets_the_tries_of_every_pin_the_card_holds(env, kind, limit):
    cid = create(env, "valid")["card_id"]
    r = env[3].put(f"/api/sandbox/cards/{cid}/pins/{kind}", json={"tries_left": 0})
    assert r.status_code == 200, r.text
    assert r.json()["locked"] and r.json()["max_tries"] == limit
    assert card(env, cid)["pins"][kind]["tries_left"] == 0
    assert env[3].put(f"/api/sandbox/cards/{cid}/pins/nonsense",
                      json={"tries_left": 0}).status_code in (400, 422)


@pytest.mark.parametrize("args, message", [
    (("--kind", "auth", "--tries", "4"), "0 to 3"),
    (("--kind", "pin", "--block"), "--kind"),
    (("--kind", "card", "--tries", "4"), "0 to 3"),
    (("--kind", "auth"), "exactly one of"),
    (("--kind", "auth", "--block", "--unblock"), "exactly one of"),
])
def test_bad_pin_usage(env, cli, args, message):
    made = create(env, "valid") if message == "0 to 3" else {"card_id": "mnc-000000000000"}
    r = cli(env[0], "sandbox", "pin", made["card_id"], *args)
    assert r.code == 2 and message in r.err


def test_pin_of_a_card_without_sign_or_an_unknown_card(env, cli):
    made = create(env, "under-15")
    r = cli(env[0], "sandbox", "pin", made["card_id"], "--kind", "sign", "--block")
    assert r.code == 2 and "no sign PIN" in r.err
    r = cli(env[0], "sandbox", "pin", "mnc-000000000000", "--kind", "auth", "--block")
    assert r.code == 2 and "no card" in r.err
    assert env[3].put("/api/sandbox/cards/nope/pins/auth",
                      json={"tries_left": 0}).status_code == 404


# --- revocations with any reason and date (R4.3) ------------------------------------------

def test_R4_1_a_sign_revoked_by_a_move_yesterday(env, cli):
    made = create(env, "valid")
    sign = certs(made)["sign"]["serial"]
    yesterday = (real_now().astimezone(JST) - timedelta(days=1)).date().isoformat()
    r = cli(env[0], "sandbox", "cert", "revoke", sign, "--reason", "affiliationChanged",
            "--at", yesterday, "--json")
    assert r.code == 0 and r.json()["status"] == "revoked"
    when = datetime.fromisoformat(yesterday + "T12:00:00+09:00")
    answer = ocsp_of(env, sign)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_time_utc == when
    assert answer.revocation_reason == x509.ReasonFlags.affiliation_changed
    entry = crl_entry(env, "sign", sign)
    assert entry.revocation_date_utc == when
    # a revocation is final (R4.3), even in the sandbox
    r = cli(env[0], "sandbox", "cert", "revoke", sign, "--reason", "keyCompromise")
    assert r.code == 1 and "R4.3" in r.out


def test_R4_3_hold_backdated_then_revoked_keeps_the_hold_date(env, cli):
    made = create(env, "valid")
    auth = certs(made)["auth"]["serial"]
    r = cli(env[0], "sandbox", "cert", "hold", auth, "--at", "2025-06-01T09:00", "--json")
    assert r.code == 0 and r.json()["status"] == "hold"
    assert ocsp_of(env, auth).revocation_reason == x509.ReasonFlags.certificate_hold
    r = env[3].post(f"/api/sandbox/certificates/{auth}/revoke", json={"reason": "keyCompromise"})
    assert r.status_code == 200 and r.json()["reason"] == "keyCompromise"
    assert r.json()["revoked_at"] == "2025-06-01T00:00:00+00:00"
    answer = ocsp_of(env, auth)
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    r = env[3].post(f"/api/sandbox/certificates/{auth}/revoke", json={"reason": "superseded"})
    assert r.status_code == 409 and r.json()["rule"] == "R4.3"
    assert env[3].post(f"/api/sandbox/certificates/{auth}/revoke",
                       json={"reason": "bored"}).status_code == 400
    assert env[3].post("/api/sandbox/certificates/abcdef/revoke",
                       json={"reason": "keyCompromise"}).status_code == 404


# --- the end of a card (R4.4) -------------------------------------------------------------

def test_R4_4_a_lost_card_revokes_both_and_an_expired_one_needs_the_clock(env, cli):
    made = create(env, "valid")
    r = cli(env[0], "sandbox", "card", "end", made["card_id"], "--as", "lost", "--json")
    assert r.code == 0 and r.json()["card"]["state"] == "lost"
    assert {(e["kind"], e["reason"]) for e in r.json()["ended"]} == {
        ("sign", "keyCompromise"), ("auth", "keyCompromise")}
    assert ocsp_of(env, certs(made)["auth"]["serial"]).revocation_reason == \
        x509.ReasonFlags.key_compromise
    r = cli(env[0], "sandbox", "card", "end", made["card_id"], "--as", "returned")
    assert r.code == 2 and "already ended" in r.err

    other = create(env, "renewal-window")
    r = cli(env[0], "sandbox", "card", "end", other["card_id"], "--as", "expired")
    assert r.code == 2 and "sandbox time set" in r.err
    expires = card(env, other["card_id"])["expires_on"]
    cli(env[0], "sandbox", "time", "set", (date.fromisoformat(expires) + timedelta(days=1)).isoformat())
    r = env[3].post(f"/api/sandbox/cards/{other['card_id']}/end", json={"as": "expired"})
    assert r.status_code == 200 and r.json()["ended"] == []  # they expired with it (R2.1)
    assert r.json()["card"]["state"] == "expired"


# --- register events (R4.1, R4.2) ---------------------------------------------------------

def test_R4_1_R4_2_a_change_of_facts_revokes_sign_only(env, cli):
    made = create(env, "valid")
    r = cli(env[0], "sandbox", "resident", "change", str(made["id"]), "--address",
            "埼玉県川口市栄町三丁目3番3号", "--name", "試験　花子", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert [e["event"] for e in out["events"]] == ["move", "name"]
    assert [(e["kind"], e["reason"]) for e in out["ended"]] == [("sign", "affiliationChanged")]
    assert ocsp_of(env, certs(made)["sign"]["serial"]).revocation_reason == \
        x509.ReasonFlags.affiliation_changed
    assert ocsp_of(env, certs(made)["auth"]["serial"]).certificate_status == \
        ocsp.OCSPCertStatus.GOOD
    r = env[3].post(f"/api/sandbox/residents/{made['id']}/facts", json={"sex": "male"})
    assert r.status_code in (200, 400)  # 400 when the sex was already male: nothing changes
    assert env[3].post(f"/api/sandbox/residents/{made['id']}/facts", json={}).status_code == 400
    assert env[3].post("/api/sandbox/residents/999999/facts",
                       json={"name": "誰　か"}).status_code == 404


def test_every_sandbox_action_is_in_the_audit_log_and_the_chain_holds(env):
    _, _, service, client = env
    with service.store.sessions() as s:
        start = s.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())).scalar() or 0
    made = create(env, "sign-revoked-by-move", "auth-locked", "card-lost")
    other = create(env, "valid")
    assert client.post(f"/api/sandbox/certificates/{certs(other)['auth']['serial']}/revoke",
                       json={"reason": "certificateHold"}).status_code == 200
    assert client.post("/api/sandbox/time/advance", json={"by": "1h"}).status_code == 200
    with service.store.sessions() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.subject)
                         .where(AuditEntry.actor == "sandbox", AuditEntry.seq > start)).all()
    actions = {a for a, _ in rows}
    assert {"sandbox.resident.create", "sandbox.card.pin_tries", "sandbox.certificate.hold",
            "sandbox.card.end", "register.move", "sandbox.clock.advance"} <= actions, actions
    assert ("sandbox.resident.create", f"resident:{made['id']}") in rows
    assert verify(service.store).ok


def test_R1_6_sandbox_pin_covers_the_card_pins_and_card_show_gives_pin_b(env, cli):
    from openjpki.card.holder import HolderClient, PinLocked
    from openjpki.card.pins import PinId

    made = create(env, "valid")
    cid = made["card_id"]
    r = cli(env[0], "sandbox", "card", "show", cid, "--json")
    shown = r.json()
    assert len(shown["security_code"]) == 4 and shown["pin_b"].endswith(shown["security_code"])
    for kind, limit in (("card", 3), ("input", 3), ("face_b", 10), ("input_a", 10)):
        r = cli(env[0], "sandbox", "pin", cid, "--kind", kind, "--block", "--json")
        assert r.code == 0, r.err
        assert r.json()["tries_left"] == 0 and r.json()["max_tries"] == limit
    vc = CardStore(env[1].cards_dir).open(cid)
    try:
        vc.power_on()
        client = HolderClient(vc)
        with pytest.raises(PinLocked):  # blocked on the card itself
            client.verify(PinId.FACE_B, shown["pin_b"])
        client.verify(PinId.FACE_A, shown["individual_number"])  # the other PINs untouched
    finally:
        vc.close()
    r = cli(env[0], "sandbox", "pin", cid, "--kind", "face_b", "--unblock", "--json")
    assert r.json()["tries_left"] == 10


def test_sandbox_residents_have_postal_codes_of_their_town(env):
    """A made-up 郵便番号 fitting the address, also after the move of sign-revoked-by-move."""
    from openjpki.services.demo_postal import KAWAGUCHI, town_of

    for state in ("valid", "sign-revoked-by-move"):
        made = create(env, state)
        r = env[3].get(f"/api/residents/{made['id']}")
        assert r.status_code == 200, r.text
        body = r.json()
        resident = body.get("resident", body)
        town = town_of(resident["address"], "埼玉県", "川口市")
        assert resident["postal_code"] == KAWAGUCHI[town], resident

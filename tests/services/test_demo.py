"""``openjpki demo``: residents with cards in every interesting state, made through the real
services, in the JSON shape CLI.md fixes; the states are checked the way a relying party and
the card see them (OCSP, the card's PIN counters, the certificates' dates), the sandbox PINs
work on the cards, and a second run changes nothing and prints the same."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from openjpki.card import CardStore, JpkiClient
from openjpki.config import Settings
from openjpki.rules import renewal_decision, to_jst
from openjpki.services.authority_home import open_authorities
from openjpki.services.authority_ocsp import OcspResponder
from openjpki.services.demo import STATES

OPENJPKI = str(Path(sys.executable).with_name("openjpki"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo-home")
    first = subprocess.run([OPENJPKI, "--home", str(home), "demo", "--json"],
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    return home, first.stdout


def test_demo_json_has_the_cli_md_shape_and_every_state(seeded):
    _, out = seeded
    data = json.loads(out)
    assert list(data) == ["residents"]
    for r in data["residents"]:
        assert set(r) == {"id", "name", "state", "card_id", "pins"}
        assert set(r["pins"]) == {"auth", "sign", "card"}
    assert [r["state"] for r in data["residents"]] == list(STATES)


def _ocsp(service, serial: str, now: datetime) -> tuple[str, str | None]:
    rec = service.get(serial)
    req = ocsp.OCSPRequestBuilder().add_certificate(
        rec.certificate, service.root(rec.kind), hashes.SHA1()).build()
    answer = OcspResponder(service).respond(req.public_bytes(serialization.Encoding.DER), now)
    resp = ocsp.load_der_ocsp_response(answer.der)
    reason = resp.revocation_reason.value if resp.revocation_reason else None
    return resp.certificate_status.name.lower(), reason


def test_each_demo_card_is_in_its_state(seeded):
    home, out = seeded
    residents = {r["state"]: r for r in json.loads(out)["residents"]}
    settings = Settings.resolve(home)
    service = open_authorities(settings)
    cards = CardStore(settings.cards_dir)
    now = datetime.now(timezone.utc)
    today = to_jst(now).date()
    try:
        def certs(state: str) -> dict:
            rid = str(residents[state]["id"])
            return {c.kind: c for c in service.list(resident_id=rid)}

        def status(state: str) -> dict:
            return {k: _ocsp(service, c.serial, now) for k, c in certs(state).items()}

        for state in STATES:
            assert cards.exists(residents[state]["card_id"]), state  # `card insert` finds it
        assert status("valid") == {"sign": ("good", None), "auth": ("good", None)}
        window = certs("renewal_window")
        assert all(renewal_decision(c.not_after.date(), today).allowed
                   for c in window.values())
        assert status("sign_revoked_by_move") == {
            "sign": ("revoked", "affiliationChanged"), "auth": ("good", None)}
        locked = cards.status(residents["auth_locked"]["card_id"])["pins"]
        assert locked["auth"]["tries_left"] == 0 and locked["sign"]["tries_left"] == 5
        assert status("on_hold") == {"sign": ("revoked", "certificateHold"),
                                     "auth": ("revoked", "certificateHold")}
        for state in ("under_15", "adult_ward"):
            assert list(certs(state)) == ["auth"], state
            assert residents[state]["pins"]["sign"] is None
        expired = certs("expired")
        assert expired and all(c.not_after < now for c in expired.values())
        assert all(c.status == "good" for c in expired.values())  # expired, not revoked
    finally:
        service.store.dispose()


def test_the_sandbox_pins_open_the_cards(seeded):
    home, out = seeded
    valid = next(r for r in json.loads(out)["residents"] if r["state"] == "valid")
    vc = CardStore(Settings.resolve(home).cards_dir).open(valid["card_id"])
    try:
        vc.power_on()
        client = JpkiClient(vc)
        client.select_jpki()
        client.verify_pin("auth", valid["pins"]["auth"])
        client.verify_pin("sign", valid["pins"]["sign"])
        der = client.read_certificate("sign")
        assert x509.load_der_x509_certificate(der).serial_number
    finally:
        vc.close()


def test_a_second_run_changes_nothing_and_prints_the_same(seeded):
    home, out = seeded
    again = subprocess.run([OPENJPKI, "--home", str(home), "demo"], capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "seeded before" in again.stdout and "openjpki card insert mnc-" in again.stdout
    lines = [line.split() for line in again.stdout.splitlines()[1:]]
    shown = [(int(p[0]), p[1], p[2]) for p in lines if p and p[0].isdigit()]
    assert shown == [(r["id"], r["state"], r["card_id"])
                     for r in json.loads(out)["residents"]]
    settings = Settings.resolve(home)
    service = open_authorities(settings)
    try:
        assert len(service.list()) == 2 * 6 + 2  # six cards with both, two with AUTH only
    finally:
        service.store.dispose()


def test_demo_residents_have_postal_codes_of_their_town(seeded):
    """Their letters print a 〒 line: a made-up 郵便番号 in 川口市's 332–334 range that
    fits the town of the address (a moved resident's, the new one's)."""
    import re

    from openjpki.services.demo_postal import KAWAGUCHI, town_of
    from openjpki.store import Store
    from openjpki.store.residents import Resident

    home, out = seeded
    store = Store.open(Settings.resolve(home).effective_database_url)
    try:
        with store.transaction() as s:
            people = s.query(Resident).all()
            assert len(people) >= len(json.loads(out)["residents"])
            for r in people:
                assert re.fullmatch(r"33[234]-\d{4}", r.postal_code or ""), (r.name, r.address)
                assert r.postal_code == KAWAGUCHI[town_of(r.address, "埼玉県", "川口市")]
            moved = next(r for r in people if r.name == "鈴木　花子")
            assert "栄町" in moved.address and moved.postal_code == "332-0017"
    finally:
        store.engine.dispose()

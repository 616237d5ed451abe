"""The platform API with a sandbox card in the vpcd reader: the card signs the nonce
(``openjpki client sign`` over PC/SC, OpenSC-compatible middleware path), the certificate read
from the card is encrypted to the server's JWKS, and ``openjpki serve``'s app answers over
HTTP — register, duplicate 409, log-in with the linked AUTH certificate, a move (R4.1) → 410
→ replacement with the same nonce and the new address → log-in again; the integrator's
script (scripts/platform-call) for one of the log-ins; an OCSP fault → 503.
Needs pcscd with vsmartcard-vpcd (scripts/test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from openjpki.services.platform import encrypt_certificate

from sandbox.kit import LiveServer, free_socket, http_json, make_home, openjpki, pcsc_ready, sandbox_app

from .kit import check_answer

pytestmark = [pytest.mark.pcsc, pytest.mark.interop, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch):
    """The seeded CA keys' passphrase, for this process and the CLI's children."""
    from openjpki.services.authority_setup import PASSPHRASE_ENV
    from openjpki.services.authority_testing import PASSPHRASE

    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
    monkeypatch.delenv("OPENJPKI_SERVICE_MODE", raising=False)
    monkeypatch.delenv("OPENJPKI_DATABASE_URL", raising=False)
READER = "Virtual PCD 00 00"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "platform-call"
FIELDS = {"login": ("auth", "encryptedCertificateForUser", "nonceData", "nonceSign"),
          "registration": ("sign", "encryptedCertificateForSign", "applicantData", "sign"),
          "replacement": ("sign", "encryptedCertificateForSign", "applicantData", "sign")}


def _atr():
    from smartcard.System import readers

    try:
        reader = [r for r in readers() if str(r).startswith(READER)][0]
        conn = reader.createConnection()
        conn.connect()
        try:
            return bytes(conn.getATR())
        finally:
            conn.disconnect()
    except Exception:  # noqa: BLE001 — no reader, or no card in it
        return None


def _wait(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class Card:
    """A sandbox card put into the vpcd reader by ``openjpki card insert`` (a child process)."""

    def __init__(self, home: Path, card_id: str, log: Path) -> None:
        self.home, self.card_id, self.log = home, card_id, log
        self.proc = None

    def insert(self) -> None:
        assert _wait(lambda: _atr() is None, 30), f"{READER} is busy with another card"
        self.proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(self.home), "card", "insert",
                                      self.card_id], stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        assert _wait(lambda: self.proc.poll() is None and _atr() is not None, 20), self.log.read_text()

    def remove(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            _wait(lambda: _atr() is None, 10)

    def sign(self, key: str, pin: str, nonce: str, tmp: Path) -> dict:
        path = tmp / f"nonce-{uuid.uuid4().hex[:6]}"
        path.write_bytes(nonce.encode())
        r = openjpki(self.home, "client", "sign", str(path), "--key", key, "--pin", pin, "--json",
                     "--reader", READER)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


def _call(server, card, pins, tmp, call, sender, nonce=None, *, jwk):
    key, cert_field, nonce_field, sig_field = FIELDS[call]
    nonce = nonce or str(uuid.uuid4())
    signed = card.sign(key, pins[key], nonce, tmp)
    body = {"requestInfo": {"transactionId": str(uuid.uuid4()), "recipient": "JPKI", "sender": sender,
                            "ts": "2025-04-01 10:00:00.000"},
            cert_field: encrypt_certificate(signed["certificate"].encode(), jwk), nonce_field: nonce,
            sig_field: signed["signature"]}
    status, answer = http_json("POST", f"{server.url}/verify/{call}", body)
    return status, check_answer(call, status, answer, body), nonce


def _reissue_sign(settings, resident_id: int, pins: dict) -> None:
    """The counter's SIGN again after the move (R4.5), with the card out of the reader."""
    from openjpki.card import CardStore
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.counter import CounterContext, SecretBox, reissue_sign
    from openjpki.services.counter.context import load_counter_config
    from openjpki.services.counter.requests import PinEntry

    service = open_authorities(settings)
    municipality, calendar, office = load_counter_config(settings.config_file)
    ctx = CounterContext(store=service.store, authority=service, cards=CardStore(settings.cards_dir),
                         box=SecretBox.from_keys_dir(settings.keys_dir), municipality=municipality,
                         calendar=calendar, default_office=office, actor="sandbox")
    from openjpki.services.register import change_card_particulars

    now = datetime.now(timezone.utc)
    ctx = replace(ctx, calendar=None)  # not a visit in office hours
    change_card_particulars(ctx, resident_id, now)  # 記載事項変更 first (R5.2)
    done = reissue_sign(ctx, resident_id, PinEntry(card=pins["card"], sign=pins["sign"]), now=now)
    assert type(done).__name__ == "Completed", done
    service.store.dispose()


def test_a_sandbox_card_through_pcsc_registers_logs_in_moves_and_is_replaced(tmp_path):
    reason = pcsc_ready()
    if reason:
        pytest.skip(reason)
    home = tmp_path / "home"
    settings = make_home(home)
    r = openjpki(home, "sandbox", "resident", "create", "--state", "valid", "--json")
    assert r.returncode == 0, r.stderr
    person = json.loads(r.stdout)["residents"][0]
    pins = person["pins"]
    server = LiveServer(sandbox_app(settings), free_socket()).start()
    card = Card(home, person["card_id"], tmp_path / "insert.log")
    try:
        jwk = http_json("GET", f"{server.url}/key/jwks.json")[1]["keys"][0]
        card.insert()
        sp = "ID123"
        status, reg, _ = _call(server, card, pins, tmp_path, "registration", sp, jwk=jwk)
        assert status == 200, reg
        tis = reg["identityInfo"]["tisUserId"]
        assert _call(server, card, pins, tmp_path, "registration", sp, jwk=jwk)[0] == 409
        status, login, _ = _call(server, card, pins, tmp_path, "login", sp, jwk=jwk)
        assert status == 200 and login["identityInfo"] == reg["identityInfo"]
        # the integrator's script, with the same card
        env = dict(os.environ, OPENJPKI_CARD_PIN=pins["auth"])
        done = subprocess.run([sys.executable, str(SCRIPT), "login", "--url", server.url, "--sender", sp,
                               "--reader", READER, "--openjpki", f"{sys.executable} -m openjpki --home {home}"],
                              capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
        out = json.loads(done.stdout)
        assert out["http_status"] == 200 and out["answer"]["identityInfo"]["tisUserId"] == tis
        # 転居: SIGN revoked (R4.1); the log-in says 410
        new_address = reg["identityInfo"]["address"].split("本町")[0] + "栄町三丁目5番3号"
        r = openjpki(home, "sandbox", "resident", "change", str(person["id"]), "--address", new_address, "--json")
        assert r.returncode == 0, r.stderr
        time.sleep(0.6)  # the server's view of the store is at most sync_interval old
        status, gone, nonce = _call(server, card, pins, tmp_path, "login", sp, jwk=jwk)
        assert status == 410, gone
        card.remove()
        _reissue_sign(settings, person["id"], pins)
        card.insert()
        status, replaced, _ = _call(server, card, pins, tmp_path, "replacement", sp, nonce, jwk=jwk)
        assert status == 200, replaced
        assert replaced["identityInfo"]["tisUserId"] == tis
        assert replaced["identityInfo"]["address"] == new_address
        status, again, _ = _call(server, card, pins, tmp_path, "login", sp, jwk=jwk)
        assert status == 200 and again["identityInfo"]["address"] == new_address
        # the OCSP responder faulted: no SUCCESS while it is
        assert openjpki(home, "sandbox", "fault", "ocsp", "tryLater").returncode == 0
        time.sleep(0.6)
        assert _call(server, card, pins, tmp_path, "login", sp, jwk=jwk)[0] == 503
        assert openjpki(home, "sandbox", "fault", "clear").returncode == 0
        time.sleep(0.6)
        assert _call(server, card, pins, tmp_path, "login", sp, jwk=jwk)[0] == 200
    finally:
        card.remove()
        server.stop()


def test_an_auth_certificate_revoked_is_401_and_an_unregistered_card_404(tmp_path):
    reason = pcsc_ready()
    if reason:
        pytest.skip(reason)
    home = tmp_path / "home"
    settings = make_home(home)
    r = openjpki(home, "sandbox", "resident", "create", "--state", "valid", "--json")
    person = json.loads(r.stdout)["residents"][0]
    auth = next(c for c in person["certificates"] if c["kind"] == "auth")
    server = LiveServer(sandbox_app(settings), free_socket()).start()
    card = Card(home, person["card_id"], tmp_path / "insert.log")
    try:
        jwk = http_json("GET", f"{server.url}/key/jwks.json")[1]["keys"][0]
        card.insert()
        assert _call(server, card, person["pins"], tmp_path, "login", "SP-A", jwk=jwk)[0] == 404
        assert _call(server, card, person["pins"], tmp_path, "registration", "SP-A", jwk=jwk)[0] == 200
        r = openjpki(home, "sandbox", "cert", "revoke", auth["serial"], "--reason", "keyCompromise")
        assert r.returncode == 0, r.stderr + r.stdout
        time.sleep(0.6)
        status, answer, _ = _call(server, card, person["pins"], tmp_path, "login", "SP-A", jwk=jwk)
        assert status == 401, answer
        # a blocked AUTH PIN (reset at the counter, R1.7): the card signs nothing, no call reaches the platform
        card.remove()
        assert openjpki(home, "sandbox", "pin", person["card_id"], "--kind", "auth", "--block").returncode == 0
        card.insert()
        env = dict(os.environ, OPENJPKI_CARD_PIN=person["pins"]["auth"])
        done = subprocess.run([sys.executable, str(SCRIPT), "login", "--url", server.url, "--sender", "SP-A",
                               "--reader", READER, "--openjpki", f"{sys.executable} -m openjpki --home {home}"],
                              capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and "R1.7" in done.stderr, done.stdout + done.stderr
    finally:
        card.remove()
        server.stop()

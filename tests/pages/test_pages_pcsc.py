"""R8.1 through a real PC/SC stack: the holder's card is in the vpcd reader (``openjpki card
insert``, which holds it), and the portal's sandbox log-in and PIN change reach it through
pcscd — the server opens the reader, not the card store. Needs pcscd with vsmartcard-vpcd
(scripts/test starts it and sets OPENJPKI_PCSC_READY)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from .kit import PINS, csrf_of, pin_works, seed_holder

pytestmark = [pytest.mark.pcsc]
READER = "Virtual PCD 00 00"


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


def test_r8_1_portal_reaches_the_card_in_the_vpcd_reader(base_url, counter, home, tmp_path):
    if not os.environ.get("OPENJPKI_PCSC_READY"):
        pytest.skip("OPENJPKI_PCSC_READY is not set: pcscd with the vpcd reader is needed "
                    "(scripts/test starts it)")
    holder = seed_holder(counter)
    assert _wait(lambda: _atr() is None, 30), f"{READER} is busy with another card"
    log = open(tmp_path / "insert.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home.home),
                             "card", "insert", holder.virtual_card_id],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        assert _wait(lambda: proc.poll() is None and _atr() is not None, 120), \
            (tmp_path / "insert.log").read_text()
        with httpx.Client(base_url=base_url, timeout=60) as c:
            token = csrf_of(c.get("/portal").text)
            r = c.post("/portal/login", data={"method": "reader",
                                              "card_number": holder.card_number,
                                              "auth_pin": PINS["auth"], "csrf_token": token})
            assert r.status_code == 303, r.text[:500]
            home_page = c.get("/portal").text
            assert 'id="cert-auth" data-kind="auth" data-status="good"' in home_page
            token = csrf_of(home_page)
            r = c.post("/portal/pin-change", data={"kind": "sign", "current_pin": PINS["sign"],
                                                   "new_pin": "VPCD2025", "new_pin2": "VPCD2025",
                                                   "csrf_token": token})
            assert r.status_code == 200 and 'data-outcome="pin_changed"' in r.text, r.text[:500]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _wait(lambda: _atr() is None, 60)
    assert pin_works(counter, holder, "sign", "VPCD2025")

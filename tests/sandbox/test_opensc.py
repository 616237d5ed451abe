"""R1.4 as middleware sees it: a PIN blocked by the sandbox is reported locked by OpenSC
(pkcs15-tool -D: tries left 0; pkcs11-tool -L: user PIN locked) with the card put into the
vpcd reader by ``openjpki card insert``. Needs pcscd with vsmartcard-vpcd (scripts/test)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from .kit import make_home, pcsc_ready

pytestmark = [pytest.mark.pcsc, pytest.mark.interop]
PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
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


def _tool(*args: str) -> str:
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def _block(text: str, title: str) -> str:
    m = re.search(re.escape(title) + r".*?\]\n(.*?)(?:\n\n|\Z)", text, re.S)
    assert m, f"no {title!r} in:\n{text}"
    return m.group(1)


def test_R1_4_a_pin_blocked_by_the_sandbox_is_locked_for_opensc(tmp_path, cli):
    reason = pcsc_ready()
    if reason:
        pytest.skip(reason)
    home = tmp_path / "home"
    make_home(home)
    r = cli(home, "sandbox", "resident", "create", "--state", "valid", "--json")
    card_id = r.json()["residents"][0]["card_id"]
    r = cli(home, "sandbox", "pin", card_id, "--kind", "auth", "--block", "--json")
    assert r.code == 0 and r.json()["locked"]
    r = cli(home, "sandbox", "pin", card_id, "--kind", "sign", "--tries", "2")
    assert r.code == 0
    assert _wait(lambda: _atr() is None, 30), f"{READER} is busy with another card"
    log = open(tmp_path / "insert.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "card",
                             "insert", card_id], stdout=subprocess.DEVNULL, stderr=log)
    try:
        assert _wait(lambda: proc.poll() is None and _atr() is not None, 120), \
            (tmp_path / "insert.log").read_text()
        dump = _tool("pkcs15-tool", "-D")
        assert re.search(r"Tries left\s+: 0", _block(dump, "PIN [User Authentication PIN")), dump
        assert re.search(r"Tries left\s+: 2", _block(dump, "PIN [Digital Signature PIN")), dump
        slots = _tool("pkcs11-tool", "--module", PKCS11, "-L")
        assert "user PIN locked" in slots.split("Slot 1")[0], slots
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _wait(lambda: _atr() is None, 60)

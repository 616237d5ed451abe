"""The vpcd bridge, against a stand-in vpcd: framing, control messages (only 04 answered),
power off forgetting PINs, reconnecting, and a clean exit on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from openjpki.card.layout import OPENSC_ATR, REAL_CONTACT_ATR
from openjpki.card.vpcd import VpcdBridge, parse_endpoint

from .cardkit import SIGN_PIN
from .fakevpcd import FakeVpcd

JPKI = "00A4040C0AD392F000260100000001"


@pytest.fixture
def bridged(card):
    fake = FakeVpcd()
    events: list[str] = []
    bridge = VpcdBridge(card, "127.0.0.1", fake.port, on_event=events.append)
    t = threading.Thread(target=bridge.run, daemon=True)
    t.start()
    fake.accept()
    yield fake, bridge, events
    bridge.stop()
    fake.close()
    t.join(5)
    assert not t.is_alive()


def test_atr_and_apdus(bridged):
    fake, _, events = bridged
    assert fake.atr() == REAL_CONTACT_ATR
    fake.ctrl(0x01)  # power on: no reply; the next frame must be the ATR again
    fake.ctrl(0x02)  # reset: no reply
    assert fake.atr() == REAL_CONTACT_ATR
    assert fake.apdu(JPKI) == b"\x90\x00"
    assert fake.apdu("00A4020C020006") == b"\x90\x00"
    r = fake.apdu("00B00000A0")
    assert r[-2:] == b"\x90\x00" and r[:15] == b"JPKIAPICCTOKEN2"
    assert any("inserted" in e for e in events)


def test_unknown_control_and_empty_messages_get_no_reply(bridged):
    fake, _, _ = bridged
    fake.ctrl(0x07)
    fake.send(b"")
    assert fake.atr() == REAL_CONTACT_ATR


def test_power_off_forgets_verified_pins(bridged):
    fake, _, _ = bridged
    fake.ctrl(0x01)
    fake.apdu(JPKI)
    fake.apdu("00A4020C02001B")
    assert fake.apdu(bytes.fromhex("0020008006") + SIGN_PIN.encode()) == b"\x90\x00"
    fake.apdu("00A4020C020001")
    assert fake.apdu("00B0000004")[-2:] == b"\x90\x00"
    fake.ctrl(0x00)
    fake.ctrl(0x01)
    fake.apdu(JPKI)
    fake.apdu("00A4020C020001")
    assert fake.apdu("00B0000004") == b"\x69\x82"


def test_reconnects_when_vpcd_goes_away(card):
    fake = FakeVpcd()
    port = fake.port
    events: list[str] = []
    bridge = VpcdBridge(card, "127.0.0.1", port, on_event=events.append)
    t = threading.Thread(target=bridge.run, daemon=True)
    t.start()
    try:
        fake.accept()
        assert fake.atr() == REAL_CONTACT_ATR
        fake.close()  # pcscd stops: connection and listening socket gone
        end = time.monotonic() + 30  # until the bridge saw it go (its state), not a delay
        while not any("reconnecting" in e for e in events):
            assert time.monotonic() < end, events
            time.sleep(0.01)
        fake = FakeVpcd(port)  # pcscd back on the same port
        fake.accept(timeout=10)
        assert fake.atr() == REAL_CONTACT_ATR
        assert fake.apdu(JPKI) == b"\x90\x00"
        assert bridge.connections == 2
        assert any("reconnecting" in e for e in events)
    finally:
        bridge.stop()
        fake.close()
        t.join(5)


@pytest.mark.parametrize("text,expect", [
    ("127.0.0.1:35963", ("127.0.0.1", 35963)), ("localhost", ("localhost", 35963)),
    (":35964", ("127.0.0.1", 35964)), ("[::1]:4000", ("::1", 4000)),
])
def test_parse_endpoint(text, expect):
    assert parse_endpoint(text) == expect


@pytest.mark.parametrize("text", ["host:", "host:0", "host:99999", "host:port", "[::1", "[::1]x"])
def test_parse_endpoint_refuses(text):
    with pytest.raises(ValueError):
        parse_endpoint(text)


def test_card_insert_process_serves_and_exits_cleanly_on_sigterm(home):
    fake = FakeVpcd()
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "card",
                             "insert", "TESTCARD1", "--vpcd", f"127.0.0.1:{fake.port}",
                             "--atr", "opensc"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake.accept()
        assert fake.atr() == OPENSC_ATR
        assert fake.apdu(JPKI) == b"\x90\x00"
        from openjpki.card import CardInUse, CardStore
        with pytest.raises(CardInUse):
            CardStore(home / "cards").open("TESTCARD1")
        assert CardStore(home / "cards").status("TESTCARD1")["in_use"] is True
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        fake.close()
    assert proc.returncode == 0, err
    assert "removed" in err and "Traceback" not in err
    from openjpki.card import CardStore
    CardStore(home / "cards").open("TESTCARD1").close()  # the card is free again


@pytest.mark.parametrize("args,msg", [
    (["card", "insert", "NOSUCH"], "no card NOSUCH"),
    (["card", "insert", "TESTCARD1", "--vpcd", "host:notaport"], "bad port"),
    (["card", "insert", "TESTCARD1", "--atr", "zz"], "--atr"),
    (["card", "insert", "../etc"], "invalid card id"),
])
def test_card_insert_usage_errors(cli, home, args, msg):
    r = cli(*args, home=home)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_card_insert_error_from_the_console_script(home):
    from .conftest import openjpki
    r = openjpki("card", "insert", "NOSUCH", home=home)
    assert r.returncode == 2 and "no card NOSUCH" in r.stderr and "Traceback" not in r.stderr

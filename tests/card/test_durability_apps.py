"""PIN A, PIN B and the resident-registry PIN are as durable as the JPKI PINs (R1.4): wrong
ones answer 63Cx down to 63C0 and then 6984, and what the card process said survives a
SIGKILL of ``openjpki card insert`` right after the answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from openjpki.card import CardStore
from openjpki.card import apdu as A
from openjpki.card.apps import AIDS, PIN_EF
from openjpki.card.pins import PIN_TRIES, PinId

from .cardkit import CARD_PIN, sample_facts
from .fakevpcd import FakeVpcd

F = sample_facts()
RIGHT = {PinId.INPUT_A: F.pin_a, PinId.FACE_A: F.pin_a, PinId.INPUT_B: F.pin_b,
         PinId.FACE_B: F.pin_b, PinId.CARD: CARD_PIN}


def _insert(home, fake: FakeVpcd) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "card",
                             "insert", "TESTCARD1", "--vpcd", f"127.0.0.1:{fake.port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fake.accept()
    fake.ctrl(0x01)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.mark.parametrize("pid", [PinId.INPUT_A, PinId.FACE_B, PinId.CARD])
def test_wrong_pins_to_6984_survive_sigkill(home, pid):
    app, fid = PIN_EF[pid]
    select = A.build(0, 0xA4, 4, 0x0C, AIDS[app])
    wrong = A.build(0, 0x20, 0, 0x80 | fid, b"0" * len(RIGHT[pid]))
    right = A.build(0, 0x20, 0, 0x80 | fid, RIGHT[pid].encode())
    limit = PIN_TRIES[pid]
    fake = FakeVpcd()
    try:
        proc = _insert(home, fake)
        assert fake.apdu(select) == b"\x90\x00"
        assert fake.apdu(wrong) == bytes((0x63, 0xC0 | (limit - 1)))
        _kill(proc)  # killed the moment the answer is out
        assert CardStore(home / "cards").status("TESTCARD1")["pins"][pid.value][
            "tries_left"] == limit - 1
        fake.drop()
        proc = _insert(home, fake)
        assert fake.apdu(select) == b"\x90\x00"
        for left in range(limit - 2, -1, -1):
            assert fake.apdu(wrong) == bytes((0x63, 0xC0 | left))
        assert fake.apdu(right) == b"\x69\x84"
        _kill(proc)
        fake.drop()
        proc = _insert(home, fake)
        assert fake.apdu(select) == b"\x90\x00"
        assert fake.apdu(A.build(0, 0x20, 0, 0x80 | fid)) == b"\x63\xc0"
        assert fake.apdu(right) == b"\x69\x84"  # still blocked after the restart
        _kill(proc)
    finally:
        fake.close()

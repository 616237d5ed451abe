"""Card state is durable (R1.4): a wrong PIN is on disk before the answer exists, so cutting
the power never gives a free try; keys, certificates, counters and blocks survive restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from openjpki.card import (CardInUse, CardStore, CardStoreError, JpkiClient, KeyKind,
                          sign_file_data)
from openjpki.card.card import PowerCut
from openjpki.card.state import CardState, MemorySaver

from .cardkit import AUTH_PIN
from .fakevpcd import FakeVpcd

JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SEL_AUTH_PIN = bytes.fromhex("00A4020C020018")
WRONG_AUTH = bytes.fromhex("002000800430303030")
RIGHT_AUTH = bytes.fromhex("0020008004") + AUTH_PIN.encode()


def _tries(store, kind="auth") -> int:
    return store.status("TESTCARD1")["pins"][kind]["tries_left"]


def _cut_after_persist(card, n: int = 1) -> None:
    """Make the n-th durable write of the next command the last thing that happens."""
    count = {"n": 0}

    def hook() -> None:
        count["n"] += 1
        if count["n"] == n:
            raise PowerCut()
    card.after_persist = hook


def test_R1_4_wrong_pin_is_persisted_before_the_answer(store):
    card = store.open("TESTCARD1")
    card.transmit(JPKI)
    card.transmit(SEL_AUTH_PIN)
    _cut_after_persist(card)
    with pytest.raises(PowerCut):  # no answer was produced
        card.transmit(WRONG_AUTH)
    card.close()
    assert _tries(store) == 2


def test_R1_4_power_cut_during_a_correct_verify_uses_the_try(store):
    """Anti-tearing: the try is used before the PIN is compared; only a completed correct
    VERIFY restores the count (R1.7)."""
    card = store.open("TESTCARD1")
    card.transmit(JPKI)
    card.transmit(SEL_AUTH_PIN)
    _cut_after_persist(card, 1)
    with pytest.raises(PowerCut):
        card.transmit(RIGHT_AUTH)
    card.close()
    assert _tries(store) == 2
    card = store.open("TESTCARD1")
    card.transmit(JPKI)
    card.transmit(SEL_AUTH_PIN)
    _cut_after_persist(card, 2)
    with pytest.raises(PowerCut):
        card.transmit(RIGHT_AUTH)
    card.close()
    assert _tries(store) == 3


def test_every_state_change_is_saved_before_its_answer():
    """With an in-memory saver: whenever a command changed the lasting state, the saved copy
    already equals it at the moment the answer is returned."""
    from .cardkit import issue
    from openjpki.card import IssuingTerminal, VirtualCard
    saver = MemorySaver()
    state = CardState.blank("MEM")
    card = VirtualCard(state, saver)
    issue(IssuingTerminal(card, state.issuing_secret), "MEM")
    for apdu in [JPKI, SEL_AUTH_PIN, WRONG_AUTH, RIGHT_AUTH,
                 bytes.fromhex("002401800439393939"), WRONG_AUTH, WRONG_AUTH, WRONG_AUTH]:
        card.transmit(apdu)
        assert saver.saved == card._state.to_json()
    assert saver.load().pins[KeyKind.AUTH].tries == 0  # three wrong PINs: locked


def test_sigkill_between_persist_and_answer(home):
    """A real process death (SIGKILL) after the write and before any answer exists."""
    script = textwrap.dedent(f"""
        import os, signal
        from openjpki.card import CardStore
        card = CardStore({str(home / "cards")!r}).open("TESTCARD1")
        card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
        card.transmit(bytes.fromhex("00A4020C020018"))
        card.after_persist = lambda: os.kill(os.getpid(), signal.SIGKILL)
        r = card.transmit(bytes.fromhex("002000800430303030"))
        print("ANSWERED", r.hex())
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL and "ANSWERED" not in r.stdout
    store = CardStore(home / "cards")
    assert _tries(store) == 2
    store.open("TESTCARD1").close()  # the dead process's lock went with it


def test_sigkill_right_after_a_wrong_verify_answer(home):
    """The card process (``card insert``) is killed the moment vpcd has the answer."""
    fake = FakeVpcd()
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "card",
                             "insert", "TESTCARD1", "--vpcd", f"127.0.0.1:{fake.port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        fake.accept()
        fake.ctrl(0x01)
        assert fake.apdu(JPKI) == b"\x90\x00"
        assert fake.apdu(SEL_AUTH_PIN) == b"\x90\x00"
        assert fake.apdu(WRONG_AUTH) == b"\x63\xc2"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        fake.close()
    assert _tries(CardStore(home / "cards")) == 2


def test_everything_survives_a_restart(store, issued):
    card = store.open("TESTCARD1")
    client = JpkiClient(card)
    client.select_jpki()
    for _ in range(5):
        try:
            client.verify_pin("sign", "WRONG1")
        except Exception:  # noqa: BLE001
            pass
    try:
        client.verify_pin("auth", "0000")
    except Exception:  # noqa: BLE001
        pass
    client.select_jpki()
    client.change_pin("auth", AUTH_PIN, "7777")
    card.close()
    card = store.open("TESTCARD1")
    st = card.status()
    assert st["pins"]["sign"]["blocked"] and st["pins"]["sign"]["tries_left"] == 0
    assert st["pins"]["auth"]["tries_left"] == 3
    sig, der = sign_file_data(card, "auth", "7777", b"after restart")
    assert der == issued.certs["auth"]
    x509.load_der_x509_certificate(der).public_key().verify(
        sig, b"after restart", padding.PKCS1v15(), hashes.SHA256())
    card.close()


def test_a_card_is_in_one_place_at_a_time(store):
    card = store.open("TESTCARD1")
    with pytest.raises(CardInUse):
        store.open("TESTCARD1")
    assert store.status("TESTCARD1")["in_use"] is True
    card.close()
    assert store.status("TESTCARD1")["in_use"] is False
    store.open("TESTCARD1").close()


def test_sealed_state_needs_the_store_key(home):
    with pytest.raises(CardStoreError, match="wrong store key"):
        CardStore(home / "cards", store_key=os.urandom(32)).open("TESTCARD1")
    path = home / "cards" / "TESTCARD1" / "state.bin"
    raw = bytearray(path.read_bytes())
    raw[40] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(CardStoreError):
        CardStore(home / "cards").open("TESTCARD1")
    with pytest.raises(CardStoreError):
        CardStore(home / "cards").status("TESTCARD1")
    # the failed opens released the lock
    assert not CardStore(home / "cards")._in_use(home / "cards" / "TESTCARD1")


def test_no_temporary_files_are_left(store):
    card = store.open("TESTCARD1")
    card.transmit(JPKI)
    card.transmit(SEL_AUTH_PIN)
    card.transmit(WRONG_AUTH)
    card.close()
    names = sorted(p.name for p in (store.directory / "TESTCARD1").iterdir())
    assert names == ["lock", "state.bin"]


def test_store_create_and_list(tmp_path):
    from openjpki.card import CardExists
    store = CardStore(tmp_path / "cards")
    assert store.list() == []
    secret = store.create("B-2")
    assert isinstance(secret, bytes) and len(secret) == 32
    store.create("A.1")
    assert store.list() == ["A.1", "B-2"]
    with pytest.raises(CardExists):
        store.create("A.1")
    for bad in ["", "../x", "a/b", ".hidden", "x" * 65]:
        with pytest.raises(CardStoreError):
            store.create(bad)
    assert oct((tmp_path / "cards" / "store.key").stat().st_mode & 0o777) == "0o600"

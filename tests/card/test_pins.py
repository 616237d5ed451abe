"""PINs on the card: forms (R1.3), tries and locking (R1.4), reset of the count by a correct
PIN and unlocking only by a PIN reset (R1.7)."""

from __future__ import annotations

import pytest

from openjpki.card import IssuingTerminal, JpkiClient, KeyKind, PinBlocked, WrongPin, pin_form_ok
from openjpki.card import layout as L

from .cardkit import AUTH_PIN, SIGN_PIN

PINS = {KeyKind.AUTH: AUTH_PIN, KeyKind.SIGN: SIGN_PIN}
WRONG = {KeyKind.AUTH: b"0000", KeyKind.SIGN: b"WRONG1"}


@pytest.mark.parametrize("kind,pin,ok", [
    ("auth", "1234", True), ("auth", "0000", True), ("auth", "123", False),
    ("auth", "12345", False), ("auth", "12a4", False), ("auth", "", False),
    ("auth", "１２３４", False),
    ("sign", "ABC123", True), ("sign", "A1B2C3D4E5F6G7H8", True), ("sign", "A1B2C", False),
    ("sign", "A1B2C3D4E5F6G7H8I", False), ("sign", "ABCDEF", False), ("sign", "123456", False),
    ("sign", "abc123", False), ("sign", "ABC 123", False), ("sign", "ABC-123", False),
])
def test_R1_3_pin_forms(kind, pin, ok):
    assert pin_form_ok(kind, pin) is ok


def _sw(card, hexapdu: str) -> int:
    return int.from_bytes(card.transmit(bytes.fromhex(hexapdu))[-2:], "big")


def _verify(card, kind: KeyKind, pin: bytes) -> int:
    card.transmit(bytes.fromhex("00A4020C02") + L.PIN_EF[kind].to_bytes(2, "big"))
    return int.from_bytes(card.transmit(bytes((0, 0x20, 0, 0x80, len(pin))) + pin)[-2:], "big")


def _tries_sw(card, kind: KeyKind) -> int:
    card.transmit(bytes.fromhex("00A4020C02") + L.PIN_EF[kind].to_bytes(2, "big"))
    return _sw(card, "00200080")


@pytest.mark.parametrize("kind,max_tries", [(KeyKind.AUTH, 3), (KeyKind.SIGN, 5)])
def test_R1_4_wrong_pins_lock_after_max_tries(card, kind, max_tries):
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert _tries_sw(card, kind) == 0x63C0 | max_tries
    for left in range(max_tries - 1, -1, -1):
        # each wrong PIN answers 63Cx with the tries left; the one using the last try 63C0
        assert _verify(card, kind, WRONG[kind]) == 0x63C0 | left
    assert _verify(card, kind, WRONG[kind]) == 0x6984  # every VERIFY after that: blocked
    assert _verify(card, kind, PINS[kind].encode()) == 0x6984  # even the right PIN
    assert _tries_sw(card, kind) == 0x63C0  # the tries query still answers 63Cx
    other = KeyKind.SIGN if kind is KeyKind.AUTH else KeyKind.AUTH
    assert _verify(card, other, PINS[other].encode()) == 0x9000  # the other PIN is unaffected


@pytest.mark.parametrize("kind", list(KeyKind))
def test_R1_7_correct_pin_resets_the_count(card, kind):
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert _verify(card, kind, WRONG[kind]) & 0xFFF0 == 0x63C0
    assert _verify(card, kind, WRONG[kind]) & 0xFFF0 == 0x63C0
    assert _verify(card, kind, PINS[kind].encode()) == 0x9000
    assert _tries_sw(card, kind) == 0x63C0 | (3 if kind is KeyKind.AUTH else 5)
    assert card.status()["pins"][kind.value]["tries_left"] == (3 if kind is KeyKind.AUTH else 5)


def test_R1_7_correct_pin_on_the_last_try_succeeds(card):
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert _verify(card, KeyKind.AUTH, b"0000") == 0x63C2
    assert _verify(card, KeyKind.AUTH, b"0000") == 0x63C1
    assert _verify(card, KeyKind.AUTH, AUTH_PIN.encode()) == 0x9000
    assert _tries_sw(card, KeyKind.AUTH) == 0x63C3


def test_R1_7_a_locked_pin_is_usable_again_only_after_a_reset(card, issued):
    client = JpkiClient(card)
    client.select_jpki()
    for _ in range(3):
        with pytest.raises(WrongPin):
            client.verify_pin("auth", "0000")
    with pytest.raises(PinBlocked) as e:
        client.verify_pin("auth", AUTH_PIN)
    assert "R1.7" in e.value.message_en and "初期化" in e.value.message_ja
    # a PIN change needs the current PIN: impossible while locked
    with pytest.raises(PinBlocked):
        client.change_pin("auth", AUTH_PIN, "9999")
    IssuingTerminal(card, issued.secret).reset_pin("auth", "4321")
    client.select_jpki()
    assert client.tries_left("auth") == 3
    client.verify_pin("auth", "4321")


def test_wrong_pin_messages_carry_tries_and_rules(card):
    client = JpkiClient(card)
    client.select_jpki()
    with pytest.raises(WrongPin) as e:
        client.verify_pin("sign", "WRONG1")
    assert e.value.tries_left == 4 and "4" in e.value.message_ja and "R1.4" in e.value.message_en


def test_a_failed_verify_forgets_an_earlier_success(card):
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert _verify(card, KeyKind.SIGN, SIGN_PIN.encode()) == 0x9000
    assert _verify(card, KeyKind.SIGN, b"WRONG1") == 0x63C4
    card.transmit(bytes.fromhex("00A4020C020001"))
    assert _sw(card, "00B0000004") == 0x6982


def test_power_off_forgets_verified_pins(card):
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert _verify(card, KeyKind.SIGN, SIGN_PIN.encode()) == 0x9000
    card.power_off()
    card.power_on()
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    card.transmit(bytes.fromhex("00A4020C020001"))
    assert _sw(card, "00B0000004") == 0x6982


def test_blank_card_pins_are_unusable_until_set(store):
    secret = store.create("BLANK")
    with store.open("BLANK") as blank:
        blank.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
        assert _tries_sw(blank, KeyKind.AUTH) == 0x63C0
        assert _verify(blank, KeyKind.AUTH, b"1234") == 0x6984
        IssuingTerminal(blank, secret).reset_pin("auth", "1234")
        blank.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
        assert _verify(blank, KeyKind.AUTH, b"1234") == 0x9000


@pytest.mark.parametrize("kind,new", [("auth", "12345"), ("auth", "abcd"), ("sign", "ABCDEF"),
                                      ("sign", "abc123")])
def test_R1_3_the_card_refuses_a_new_pin_of_the_wrong_form(card, issued, kind, new):
    from openjpki.card import PinFormRefused
    client = JpkiClient(card)
    client.select_jpki()
    with pytest.raises(PinFormRefused) as e:
        client.change_pin(kind, PINS[KeyKind(kind)], new)
    assert "R1.3" in e.value.message_en
    with pytest.raises(ValueError, match="R1.3"):
        IssuingTerminal(card, issued.secret).reset_pin(kind, new)
    client.select_jpki()
    client.verify_pin(kind, PINS[KeyKind(kind)])  # the old PIN still works

"""The card package's boundaries (ARCHITECTURE.md), failure to persist, and the `card list`
/ `card status` commands."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import openjpki.card
from openjpki.card import VirtualCard
from openjpki.card.state import CardState

from .cardkit import AUTH_PIN

CARD_DIR = Path(openjpki.card.__file__).parent


@pytest.mark.parametrize("module", sorted(p.name for p in CARD_DIR.glob("*.py")))
def test_card_imports_no_rules_pki_or_store(module):
    tree = ast.parse((CARD_DIR / module).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    forbidden = {n for n in names if n.split(".")[:2] in (
        ["openjpki", "rules"], ["openjpki", "pki"], ["openjpki", "store"],
        ["openjpki", "services"], ["openjpki", "web"], ["openjpki", "cli"])}
    assert not forbidden, f"{module} imports {forbidden}"


@pytest.mark.parametrize("module", sorted(p.name for p in CARD_DIR.glob("*.py")))
def test_modules_stay_small(module):
    assert len((CARD_DIR / module).read_text().splitlines()) < 420


class BrokenDisk:
    def save(self, state: CardState) -> None:
        raise OSError(28, "No space left on device")


def test_a_state_that_cannot_be_saved_is_never_answered_as_done(card):
    """If the try cannot be recorded the PIN is not even compared: 6F00, nothing learnt."""
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    card.transmit(bytes.fromhex("00A4020C020018"))
    good_saver = card._saver
    card._saver = BrokenDisk()
    for pin in (b"0000", AUTH_PIN.encode()):
        assert card.transmit(bytes((0, 0x20, 0, 0x80, 4)) + pin) == b"\x6f\x00"
    card._saver = good_saver
    assert card.status()["pins"]["auth"]["tries_left"] == 3
    assert card.transmit(bytes((0, 0x20, 0, 0x80, 4)) + AUTH_PIN.encode()) == b"\x90\x00"


def test_repr_and_status_hold_no_secrets(card, issued):
    assert repr(card) == "VirtualCard('TESTCARD1')"
    text = json.dumps(card.status())
    assert issued.secret.hex() not in text and AUTH_PIN not in text


def test_card_list_and_status_commands(cli, home):
    r = cli("card", "list", "--json", home=home)
    assert r.returncode == 0 and json.loads(r.stdout) == ["TESTCARD1"]
    r = cli("card", "status", "TESTCARD1", "--json", home=home)
    st = json.loads(r.stdout)
    assert st["pins"]["auth"] == {"set": True, "tries_left": 3, "max_tries": 3, "blocked": False}
    assert st["certificates"] == {"auth": True, "sign": True} and st["in_use"] is False
    r = cli("card", "status", "TESTCARD1", home=home)
    assert "3/3 tries left" in r.stdout and "5/5 tries left" in r.stdout
    r = cli("card", "status", "NOPE", home=home)
    assert r.returncode == 2 and "no card NOPE" in r.stderr
    r = cli("card", "list", home=home / "empty")
    assert r.returncode == 0 and r.stdout == ""


def test_a_virtual_card_object_is_the_in_process_transport(card):
    assert isinstance(card, VirtualCard)
    assert card.power_on() == bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
    assert card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"


def test_a_closed_card_answers_nothing(store):
    card = store.open("TESTCARD1")
    card.close()
    with pytest.raises(RuntimeError, match="closed"):
        card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    store.open("TESTCARD1").close()  # its lock was released

"""Acceptance over pcscd + vpcd: every EF of every application read through PC/SC (pyscard)
with short APDUs, extended ones (one answer of several KB through vpcd) and by SFI; the four
facts, the card face and every PIN's tries through the holder client and the CLI; OpenSC's
``pkcs11-tool --test`` (C_GenerateRandom included) ends without errors."""

from __future__ import annotations

import json
import subprocess

import pytest

from openjpki.card import apdu as A
from openjpki.card.apps import AIDS, FILES, App, EfKind
from openjpki.card.holder import HolderClient
from openjpki.card.pcsc import PcscTransport
from openjpki.card.personal import card_files
from openjpki.card.pins import PIN_TRIES, PinId

from . import appkit as K
from .cardkit import CARD_PIN, INPUT_PIN, issuer_key, sample_facts
from .test_interop_opensc import PKCS11, tool

pytestmark = pytest.mark.pcsc
F = sample_facts()
UNLOCK = {App.INPUT: (PinId.INPUT, INPUT_PIN), App.FACE: (PinId.FACE_A, F.pin_a)}


def _reader() -> PcscTransport:
    return PcscTransport("Virtual PCD 00 00")


def _tx(t, apdu: bytes) -> tuple[bytes, int]:
    r = t.transmit(apdu)
    return r[:-2], int.from_bytes(r[-2:], "big")


def test_every_ef_of_every_application_three_ways(inserted):
    expected = card_files(F, issuer_key())
    with _reader() as t:
        for app, files in FILES.items():
            assert _tx(t, A.build(0, 0xA4, 4, 0x0C, AIDS[app]))[1] == 0x9000
            if app in UNLOCK:
                pid, pin = UNLOCK[app]
                fid = {PinId.INPUT: 0x11, PinId.FACE_A: 0x13}[pid]
                assert _tx(t, A.build(0, 0x20, 0, 0x80 | fid, pin.encode()))[1] == 0x9000
            for fid, spec in files.items():
                if spec.kind is not EfKind.DATA:
                    continue
                assert _tx(t, A.build(0, 0xA4, 2, 0x0C, fid.to_bytes(2, "big")))[1] == 0x9000
                short, off = b"", 0
                while True:
                    data, sw = _tx(t, A.build(0, 0xB0, off >> 8, off & 0xFF, le=256))
                    assert sw in (0x9000, 0x6B00)
                    short += data
                    off += len(data)
                    if sw != 0x9000 or len(data) < 256:
                        break
                whole, sw = _tx(t, A.build(0, 0xB0, 0, 0, le=65536, extended=True))
                by_sfi, sw2 = _tx(t, A.build(0, 0xB0, 0x80 | fid, 0, le=65536, extended=True))
                assert (sw, sw2) == (0x9000, 0x9000)
                assert short == whole == by_sfi == expected[(app, fid)], (app, fid)
        face = expected[(App.FACE, 2)]
        assert len(face) > 1000  # one extended answer of several KB came through vpcd
        # JPKI by SFI, extended: the AUTH certificate EF whole
        assert _tx(t, A.build(0, 0xA4, 4, 0x0C, AIDS[App.JPKI]))[1] == 0x9000
        data, sw = _tx(t, bytes.fromhex("00B08A00000000"))
        assert sw == 0x9000 and len(data) == 4096 and data[0] == 0x30
        assert _tx(t, bytes.fromhex("00B08A0000046B"))[0] == data[:0x46B]
        assert _tx(t, bytes.fromhex("0084000008"))[1] == 0x9000


def test_facts_face_and_tries_through_the_holder_client(inserted, tmp_path):
    with _reader() as t:
        client = HolderClient(t)
        facts = client.facts(INPUT_PIN)
        assert (facts.individual_number, facts.name, facts.address) == (
            F.individual_number, F.name, F.address)
        face = client.face(F.pin_b)
        K.image(face["photo_jp2"], "JPEG2000")
        K.image(face["name_png"], "PNG")
        tries = client.all_tries()
        assert {k: v["tries_left"] for k, v in tries.items()} == {
            p.value: PIN_TRIES[p] for p in PinId}
        assert client.manufacture_number().startswith("OJ")


def test_cli_facts_face_pins_change_pin(cli, inserted, tmp_path, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(INPUT_PIN + "\n"))
    r = cli("client", "facts", "--pin-stdin", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["individual_number"] == F.individual_number
    monkeypatch.setenv("FACE_PIN", F.pin_a)
    r = cli("client", "face", "--out", str(tmp_path / "face"), "--pin-env", "FACE_PIN",
            "--using", "a", "--json")
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)["files"]) == {
        "name.png", "address.png", "photo.jp2", "security_code.png", "individual_number.png"}
    K.image((tmp_path / "face" / "photo.jp2").read_bytes(), "JPEG2000")
    r = cli("client", "facts", "--pin", "0000")
    assert r.returncode == 1 and "残り 2 回" in r.stderr
    r = cli("client", "pins", "--json")
    assert json.loads(r.stdout)["input"]["tries_left"] == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{CARD_PIN}\n1357\n"))
    r = cli("client", "change-pin", "--kind", "card", "--pin-stdin")
    assert r.returncode == 0, r.stderr
    monkeypatch.setattr(sys, "stdin", io.StringIO("1357\n12\n"))
    r = cli("client", "change-pin", "--kind", "card", "--pin-stdin")
    assert r.returncode == 1 and "R1.6" in r.stderr  # the card refused the form (6A80)


@pytest.mark.interop
def test_pkcs11_tool_test_ends_without_errors(inserted):
    r = tool("pkcs11-tool", "--module", PKCS11, "--slot-index", "0", "--test", check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "No errors" in out, out
    assert "C_GenerateRandom" in out or "random" in out.lower(), out
    rnd = subprocess.run(["pkcs11-tool", "--module", PKCS11, "--slot-index", "0",
                          "--generate-random", "32"], capture_output=True, timeout=60)
    assert rnd.returncode == 0 and len(rnd.stdout) == 32 and rnd.stdout != bytes(32)

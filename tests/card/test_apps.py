"""The 券面事項入力補助AP, 券面事項確認AP, 住基AP and 共通AP in process: every EF read with
short and extended APDUs and by SFI, the BER checked with asn1crypto's parser, the 0003
signature with 0004's key, the images with Pillow; every PIN's tries, wrong PINs to 6984,
CHANGE REFERENCE DATA."""

from __future__ import annotations

import hashlib

import pytest

from openjpki.card import apdu as A
from openjpki.card.apps import AIDS, FILES, PIN_EF, App, EfKind
from openjpki.card.holder import HolderClient, WrongCardPin
from openjpki.card.pins import PIN_TRIES, PinId

from . import appkit as K
from .cardkit import CARD_PIN, INPUT_PIN, sample_facts

F = sample_facts()
PINS = {PinId.INPUT: INPUT_PIN, PinId.CARD: CARD_PIN, **{k: v for k, v in
                                                        F.derived_pins().items()}}


def tx(card, hexstr: str | bytes) -> tuple[bytes, int]:
    r = card.transmit(bytes.fromhex(hexstr) if isinstance(hexstr, str) else hexstr)
    return r[:-2], int.from_bytes(r[-2:], "big")


def select(card, app: App) -> None:
    assert tx(card, A.build(0, 0xA4, 4, 0x0C, AIDS[app]))[1] == 0x9000


def verify(card, pid: PinId, pin: str | None = None) -> int:
    app, fid = PIN_EF[pid]
    select(card, app)
    return tx(card, A.build(0, 0x20, 0, 0x80 | fid, (pin or PINS[pid]).encode()))[1]


def read_three_ways(card, app: App, fid: int) -> bytes:
    """SELECT + 256-byte short reads; extended Le 0000 after SELECT; extended by SFI."""
    assert tx(card, A.build(0, 0xA4, 2, 0x0C, fid.to_bytes(2, "big")))[1] == 0x9000
    short, off = b"", 0
    while True:
        data, sw = tx(card, A.build(0, 0xB0, off >> 8, off & 0xFF, le=256))
        if sw == 0x6B00:
            break
        assert sw == 0x9000
        short += data
        off += len(data)
        if len(data) < 256:
            break
    whole, sw = tx(card, A.build(0, 0xB0, 0, 0, le=65536, extended=True))
    assert sw == 0x9000
    by_sfi, sw = tx(card, A.build(0, 0xB0, 0x80 | fid, 0, le=65536, extended=True))
    assert sw == 0x9000
    assert short == whole == by_sfi
    if len(whole) > 256:  # a short SFI read gives the first 256 bytes
        assert tx(card, A.build(0, 0xB0, 0x80 | fid, 0, le=256))[0] == whole[:256]
    return whole


def test_every_data_ef_reads_the_same_three_ways(card):
    seen = {}
    for app, files in FILES.items():
        for fid, spec in files.items():
            if spec.kind is not EfKind.DATA:
                continue
            select(card, App.COMMON)  # leaving the application forgets its PINs
            select(card, app)
            if spec.read_needs:
                need = sorted(spec.read_needs)[0]
                assert tx(card, A.build(0, 0xB0, 0x80 | fid, 0, le=256))[1] == 0x6982
                assert verify(card, need) == 0x9000
            seen[(app, fid)] = read_three_ways(card, app, fid)
    assert len(seen[(App.INPUT, 1)]) == 17 and len(seen[(App.INPUT, 3)]) == 336
    assert len(seen[(App.INPUT, 4)]) == 568 and len(seen[(App.FACE, 2)]) > 256


def test_four_facts_parsed_by_an_independent_ber_parser(card):
    assert verify(card, PinId.INPUT) == 0x9000
    raw = tx(card, "00B08200000000")[0]
    assert raw[:5] == b"\xff\x20\x82" + (len(raw) - 5).to_bytes(2, "big")
    cls, tag, contents, size = K.ber(raw)
    assert (cls, tag, size) == (K.PRIVATE, 0x20, len(raw))
    items = K.ber_children(contents)
    assert [t for t, _, _ in items] == [0x21, 0x22, 0x23, 0x24, 0x25]
    offsets = items[0][1]
    assert [int.from_bytes(offsets[i:i + 2], "big") for i in range(0, 8, 2)] == [
        5 + pos for _, _, pos in items[1:]]  # from the start of the EF
    values = {t: v.decode() for t, v, _ in items[1:]}
    assert values == {0x22: F.name, 0x23: F.address, 0x24: "19900401", 0x25: "2"}
    number = tx(card, "00B08100000000")[0]  # FF 10 is a non-minimal BER tag: bytes, then
    assert number == b"\xff\x10\x0c" + F.individual_number.encode() + b"\x00\x00"


def test_integrity_data_verifies_with_the_signers_certificate(card):
    assert verify(card, PinId.INPUT_B) == 0x9000  # PIN B opens the files too
    number = tx(card, "00B08100000000")[0]
    four = tx(card, "00B08200000000")[0]
    integrity = tx(card, "00B08300000000")[0]
    key = K.cv_public_key(tx(card, "00B08400000000")[0])
    _, tag, contents, _ = K.ber(integrity)
    items = {t: v for t, v, _ in K.ber_children(contents)}
    assert items[0x31] == hashlib.sha256(number[:15]).digest()
    assert items[0x32] == hashlib.sha256(four).digest()
    K.verify(key, items[0x33], contents[:70])  # over the DF31 and DF32 objects
    info = K.ber(tx(card, "00B0850000")[0])
    assert info[1] == 0x40 and len(K.ber_children(info[2])[1][1]) == 16


def test_card_face_images_open_in_pillow_and_are_signed(card):
    key = K.cv_public_key(_ef0004(card))
    assert verify(card, PinId.FACE_A) == 0x9000
    raw = tx(card, "00B08200000000")[0]
    _, tag, contents, _ = K.ber(raw)
    items = K.ber_children(contents)
    by_tag = {t: v for t, v, _ in items}
    assert [t for t, _, _ in items] == [0x21] + list(range(0x22, 0x2B))
    assert by_tag[0x22] == b"19900401" and by_tag[0x29] == b"20350401"
    for t in (0x25, 0x26, 0x2A):
        assert K.image(by_tag[t], "PNG").size[0] > 20
    assert K.image(by_tag[0x27], "JPEG2000").size == (96, 120)
    signed = contents[items[1][2]:items[7][2]]  # DF22 .. DF27
    K.verify(key, by_tag[0x28], signed)
    assert K.public_key_of(by_tag[0x24]).public_numbers() == key.public_numbers()
    number = K.ber(tx(card, "00B08500000000")[0])
    K.image({t: v for t, v, _ in K.ber_children(number[2])}[0x41], "PNG")


def _ef0004(card) -> bytes:
    select(card, App.INPUT)
    return tx(card, "00B08400000000")[0]


def test_face_ef_0005_needs_pin_a_not_b(card):
    assert verify(card, PinId.FACE_B) == 0x9000
    assert tx(card, "00B08200000000")[1] == 0x9000
    assert tx(card, "00B0850000")[1] == 0x6982


@pytest.mark.parametrize("pid", list(PinId))
def test_tries_query_by_sfi_for_every_pin(card, pid):
    app, fid = PIN_EF[pid]
    select(card, app)
    assert tx(card, A.build(0, 0x20, 0, 0x80 | fid))[1] == 0x63C0 | PIN_TRIES[pid]


@pytest.mark.parametrize("pid", [PinId.INPUT, PinId.INPUT_A, PinId.FACE_B, PinId.CARD])
def test_wrong_pins_count_down_then_block(card, pid):
    wrong = "0" * len(PINS[pid])
    for left in range(PIN_TRIES[pid] - 1, -1, -1):
        assert verify(card, pid, wrong) == 0x63C0 | left
    assert verify(card, pid) == 0x6984  # even the right one, once blocked
    assert card.status()["pins"][pid.value]["blocked"]


@pytest.mark.parametrize("pid,new", [(PinId.INPUT, "9999"), (PinId.CARD, "1357"),
                                     (PinId.AUTH, "8642"), (PinId.SIGN, "NEW123")])
def test_change_reference_data_in_every_application(card, pid, new):
    client = HolderClient(card)
    client.change_pin(pid, PINS.get(pid) or {"auth": "1234", "sign": "ABC123"}[pid.value], new)
    client.select(PIN_EF[pid][0])
    client.verify(pid, new)
    with pytest.raises(WrongCardPin):
        client.verify(pid, PINS.get(pid) or {"auth": "1234", "sign": "ABC123"}[pid.value])


def test_pin_a_and_b_cannot_be_changed_by_the_holder(card):
    assert verify(card, PinId.INPUT_A) == 0x9000
    assert tx(card, A.build(0, 0x24, 1, 0x94, b"111111111111"))[1] == 0x6985
    assert verify(card, PinId.INPUT_A) == 0x9000  # unchanged


def test_holder_client_reads_facts_and_face_short_and_extended(card):
    for extended in (True, False):
        client = HolderClient(card, extended=extended)
        facts = client.facts(INPUT_PIN)
        assert (facts.individual_number, facts.name, facts.address, facts.birth_date,
                facts.sex) == (F.individual_number, F.name, F.address, "19900401", "2")
        face = client.face(F.pin_a, using=PinId.FACE_A)
        assert K.image(face["photo_jp2"], "JPEG2000")
        assert K.image(face["individual_number_png"], "PNG")
    assert client.manufacture_number().startswith("OJ")
    assert all(v["tries_left"] == PIN_TRIES[PinId(k)] for k, v in client.all_tries().items())


def test_birth_date_pin_opens_the_birth_ef_only(card):
    assert verify(card, PinId.FACE_BIRTH) == 0x9000
    birth = tx(card, "00B08100000000")
    assert birth[1] == 0x9000 and b"19900401" in birth[0]
    assert tx(card, "00B0820000")[1] == 0x6982

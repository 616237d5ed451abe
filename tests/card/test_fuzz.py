"""Robustness: random and mutated APDUs always get a well-formed answer ending in one of the
status words of CARD.md (or 63Cx), never an exception nor the 6F00 of an internal error.

The main run is a seeded mutator over valid APDUs of every command of every application
(short and extended lengths, short EF identifiers, GET CHALLENGE, READ RECORD, the issuing
commands after a real issuer authentication), with power cycles and fresh card states mixed
in. Two state invariants are checked after every command: a refused command changes nothing
the card keeps (the one exception: a wrong PIN in VERIFY uses exactly one try of that PIN),
and a PIN's tries go up only on a correct PIN or the issuer's reset. ``OPENJPKI_CARD_FUZZ_APDUS`` sets the count (default 100,000) and
``OPENJPKI_CARD_FUZZ_SEED`` the seed."""

from __future__ import annotations

import hashlib
import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openjpki.card import IssuingTerminal, VirtualCard
from openjpki.card import apdu as A
from openjpki.card import issuer as I
from openjpki.card import rsaops
from openjpki.card.rsaops import SHA256_DIGESTINFO_PREFIX
from openjpki.card.state import CardState, MemorySaver

from .cardkit import AUTH_PIN, CARD_PIN, INPUT_PIN, SIGN_PIN, issue, personalise, sample_facts

N = int(os.environ.get("OPENJPKI_CARD_FUZZ_APDUS", "100000"))
SEED = int(os.environ.get("OPENJPKI_CARD_FUZZ_SEED", "20260105"))
ALLOWED = {0x9000, 0x6700, 0x6982, 0x6984, 0x6985, 0x6A80, 0x6A82, 0x6A86, 0x6B00, 0x6D00,
           0x6E00} | {0x63C0 | i for i in range(11)}


def check(rapdu: bytes) -> int:
    assert isinstance(rapdu, bytes) and 2 <= len(rapdu) <= 65538, rapdu[-2:].hex()
    sw = int.from_bytes(rapdu[-2:], "big")
    assert sw in ALLOWED, f"{sw:04X}"
    if sw != 0x9000:
        assert len(rapdu) == 2, "only 9000 carries data"
    return sw


@pytest.fixture(scope="module")
def snapshot():
    """An issued card's lasting state, made once (the fuzzer restarts from it)."""
    state = CardState.blank("FUZZ")
    card = VirtualCard(state, MemorySaver())
    terminal = IssuingTerminal(card, state.issuing_secret)
    issue(terminal, "FUZZ")
    personalise(terminal)
    return card._state.to_json(), state.issuing_secret


JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
ISSUER = b"issuer"  # stands for a real issuer authentication in a context


def _sel(fid: int) -> bytes:
    return bytes.fromhex(f"00A4020C02{fid:04X}")


def _contexts(cert_der: bytes) -> list[tuple[list[bytes], list[bytes]]]:
    """(valid prefix that sets a state, the commands worth sending in that state)."""
    di = SHA256_DIGESTINFO_PREFIX + hashlib.sha256(b"m").digest()
    signs = [A.build(0x80, 0x2A, 0, 0x80, di, le=256), A.build(0x80, 0x2A, 1, 0x80, b"msg", le=256),
             A.build(0x80, 0x2A, 2, 0x80, di[-32:], le=256), A.build(0x80, 0x2A, 3, 0x80, b"x"),
             A.build(0x80, 0x2A, 4, 0x80, di[-32:], le=256),
             A.build(0x80, 0x2A, 5, 0x80, b"y" * 200), A.build(0x80, 0x2A, 0, 0x80, b"z" * 245)]
    reads = [bytes.fromhex(h) for h in ("00B0000000", "00B0000004", "00B00FF000", "00B000A000",
                                        "00B0100000", "00B07FFF01")]
    pins = [bytes.fromhex("00200080"), bytes.fromhex("0020008000")]
    pins += [A.build(0, 0x20, 0, 0x80, p.encode()) for p in (AUTH_PIN, SIGN_PIN, "0000", "WRONG1")]
    pins += [A.build(0, 0x24, 1, 0x80, p.encode()) for p in (AUTH_PIN, SIGN_PIN, "12", "abc")]
    writes = [A.build(0x80, 0xD6, o >> 8, o & 0xFF, cert_der[o:o + 255])
              for o in range(0, len(cert_der), 255)]
    issuing = [bytes.fromhex(h) for h in ("8046000000", "8046010000", "80D80000", "800E0000")]
    issuing += [A.build(0x80, 0x2C, 0, 0x80, p.encode()) for p in (AUTH_PIN, SIGN_PIN, "1")]
    selects = [JPKI, bytes.fromhex("00A404000AD392F000260100000001"),
               bytes.fromhex("00A4040C0AD3921000310001010408"),
               bytes.fromhex("00A4040C0AD3921000310001010100")]
    selects += [_sel(f) for f in (1, 2, 6, 8, 0xA, 0xB, 0x17, 0x18, 0x1A, 0x1B, 0x3F00)]
    challenge = [A.build(0x80, I.INS_GET_CHALLENGE, 0, 0, le=16),
                 A.build(0x80, 0x82, 0, 0, bytes(32))]
    apps = _app_commands()
    selects += apps["selects"]
    everything = (signs + reads + pins + writes + issuing + selects + challenge
                  + apps["reads"] + apps["pins"] + apps["other"])
    everything.append(bytes.fromhex("80E60000"))  # wipe: rare, it empties the card
    verify_auth = A.build(0, 0x20, 0, 0x80, AUTH_PIN.encode())
    verify_sign = A.build(0, 0x20, 0, 0x80, SIGN_PIN.encode())
    return [
        ([], everything),
        ([JPKI], everything),
        ([JPKI, _sel(0x18), verify_auth, _sel(0x17)], signs),
        ([JPKI, _sel(0x1B), verify_sign, _sel(0x1A)], signs),
        ([JPKI, _sel(0x1B), verify_sign, _sel(0x01)], reads),
        ([JPKI, _sel(0x0A)], reads),
        ([JPKI, _sel(0x06)], reads),
        ([JPKI, _sel(0x18)], pins),
        ([JPKI, _sel(0x1B), verify_sign], pins),
        ([JPKI, ISSUER, _sel(0x17)], issuing),
        ([JPKI, ISSUER, _sel(0x1B)], issuing),
        ([JPKI, ISSUER, _sel(0x0B)], writes[:1] + issuing),
        ([JPKI, ISSUER, _sel(0x0A), *writes], [bytes.fromhex("80D80000")] + writes[-1:]),
        ([INPUT], apps["pins"] + apps["reads"]),
        ([INPUT, _ver(0x91, INPUT_PIN)], apps["reads"] + apps["pins"]),
        ([FACE, _ver(0x92, F.pin_b)], apps["reads"]),
        ([FACE, _ver(0x93, F.pin_a)], apps["reads"] + apps["pins"]),
        ([JUKI], apps["pins"]),
        ([JUKI, _ver(0x91, CARD_PIN)], apps["pins"]),
        ([COMMON], apps["other"]),
        ([JPKI], apps["reads"] + apps["other"]),
        ([INPUT, ISSUER, _sel(0x02)], issuing + writes[:1] + [bytes.fromhex("80D80000")]),
    ]


F = sample_facts()
INPUT = bytes.fromhex("00A4040C0AD3921000310001010408")
FACE = bytes.fromhex("00A4040C0AD3921000310001010402")
JUKI = bytes.fromhex("00A4040C0AD3921000310001010401")
COMMON = bytes.fromhex("00A4040C0AD3921000310001010100")


def _ver(p2: int, pin: str = "") -> bytes:
    return A.build(0, 0x20, 0, p2, pin.encode())


def _app_commands() -> dict[str, list[bytes]]:
    """Valid commands of the other applications and the new forms: SFI reads (short and
    extended Le), extended reads at offsets, VERIFY / CHANGE by SFI with right and wrong
    PINs and tries queries, GET CHALLENGE, READ RECORD."""
    reads = [A.build(0, 0xB0, 0x80 | sfi, off, le=le, extended=ext)
             for sfi in (1, 2, 3, 4, 5, 0x0A, 0x11) for off in (0, 5)
             for le, ext in ((256, False), (17, False), (65536, True), (0x46B, True))]
    reads += [A.build(0, 0xB0, hi, lo, le=le, extended=True)
              for hi, lo in ((0, 0), (0, 0x80), (1, 0), (0x10, 0)) for le in (1, 65536)]
    pins = [_ver(p2) for p2 in (0x91, 0x92, 0x93, 0x94, 0x95, 0x98, 0x9B, 0x80)]
    pins += [_ver(p2, pin) for p2, pin in (
        (0x91, INPUT_PIN), (0x91, CARD_PIN), (0x91, "0000"), (0x94, F.pin_a),
        (0x94, "0" * 12), (0x95, F.pin_b), (0x92, F.pin_b), (0x93, F.pin_a),
        (0x93, "1" * 12), (0x92, "2" * 14))]
    pins += [A.build(0, 0x24, 1, p2, pin.encode()) for p2, pin in (
        (0x91, "2468"), (0x91, "12"), (0x94, "9" * 12), (0x98, "1111"), (0x9B, "ABC999"))]
    other = [bytes.fromhex(h) for h in ("0084000008", "008400000A", "00840000000008",
                                        "00B2010C00", "00B2010C11", "00B2020C00",
                                        "00B2010400", "00B2010C000000")]
    selects = [INPUT, FACE, JUKI, COMMON, bytes.fromhex("00A4020C020011"),
               bytes.fromhex("00A4020C020014"), bytes.fromhex("00A4020C020012"),
               bytes.fromhex("00A4020C020013"), bytes.fromhex("00A4020C020005")]
    return {"reads": reads, "pins": pins, "other": other, "selects": selects}


def _mutate(rng: random.Random, apdu: bytes) -> bytes:
    b = bytearray(apdu)
    op = rng.randrange(9)
    if op == 0 and b:
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif op == 1 and b:
        b[rng.randrange(len(b))] = rng.randrange(256)
    elif op == 2:
        del b[rng.randrange(len(b) + 1):]
    elif op == 3:
        b += rng.randbytes(rng.randrange(1, 20))
    elif op == 4 and len(b) >= 4:
        b[rng.randrange(4)] = rng.randrange(256)  # CLA, INS, P1 or P2
    elif op == 5 and len(b) >= 5:
        b[4] = rng.randrange(256)  # Lc / Le
    elif op == 6 and len(b) >= 4:
        b[1] = rng.choice((0xA4, 0xB0, 0x20, 0x24, 0x2A, 0x84, 0x82, 0x46, 0xD6, 0xD8, 0x0E,
                           0x2C, 0xE6, 0xC0, 0xCA))
    elif op == 7:
        b = bytearray(rng.randbytes(rng.randrange(0, 262)))
    else:
        b[:1] = bytes((rng.choice((0x00, 0x80, 0x0C, 0x84, 0xFF)),))
    return bytes(b)


def test_100k_random_and_mutated_apdus(snapshot, monkeypatch):
    raw, secret = snapshot
    pool = [rsaops.generate_key() for _ in range(2)]
    monkeypatch.setattr(rsaops, "generate_key", lambda: random.choice(pool))  # keygen is slow
    rng = random.Random(SEED)
    cert = CardState.from_json(raw).files[0x000A]
    contexts = _contexts(cert)
    card = VirtualCard(CardState.from_json(raw), MemorySaver())
    counts: dict[int, int] = {}
    successes: dict[tuple[int, int], int] = {}
    follow_ups = contexts[0][1]
    started = time.monotonic()
    sent = 0
    while sent < N:
        if sent % 500 < 2:  # a fresh card now and then, so blocked PINs do not end the game
            card = VirtualCard(CardState.from_json(raw), MemorySaver())
        roll = rng.random()
        if roll < 0.02:
            card.power_off() if rng.random() < 0.5 else card.reset()
            sent += 1
            continue
        if roll < 0.22:  # put the card into a state with a valid prefix
            prefix, follow_ups = rng.choice(contexts)
            for apdu in prefix:
                if apdu is ISSUER:
                    r = card.transmit(A.build(0x80, I.INS_GET_CHALLENGE, 0, 0, le=16))
                    if check(r) == 0x9000 and check(card.transmit(A.build(
                            0x80, 0x82, 0, 0, I.issuing_mac(secret, r[:-2])))) == 0x9000:
                        successes[(0x80, 0x82)] = successes.get((0x80, 0x82), 0) + 1
                    sent += 2
                else:
                    check(card.transmit(apdu))
                    sent += 1
            continue
        apdu = rng.choice(follow_ups)
        if roll > 0.45:
            apdu = _mutate(rng, apdu)
            if rng.random() < 0.3:
                apdu = _mutate(rng, apdu)
        before = card._state
        try:
            sw = check(card.transmit(apdu))
            _invariants(before, card._state, apdu, sw)
        except AssertionError as e:
            raise AssertionError(f"APDU #{sent} {apdu.hex()}: {e}") from None
        sent += 1
        counts[sw] = counts.get(sw, 0) + 1
        if sw == 0x9000 and len(apdu) >= 2:
            successes[(apdu[0], apdu[1])] = successes.get((apdu[0], apdu[1]), 0) + 1
    elapsed = time.monotonic() - started
    print(f"\n{sent} APDUs in {elapsed:.1f} s; status words: "
          + ", ".join(f"{sw:04X}×{n}" for sw, n in sorted(counts.items()))
          + "; successful commands: "
          + ", ".join(f"{c:02X}{i:02X}×{n}" for (c, i), n in sorted(successes.items())))
    # every status word family was reached, so the fuzzer explores the commands
    for sw in (0x9000, 0x6700, 0x6982, 0x6985, 0x6A82, 0x6A86, 0x6B00, 0x6D00, 0x6E00):
        assert counts.get(sw, 0) > 0 or N < 10000, f"{sw:04X} never seen"
    for cla_ins in [(0x00, 0xA4), (0x00, 0xB0), (0x00, 0x20), (0x00, 0x24), (0x80, 0x2A),
                    (0x00, 0x84), (0x00, 0xB2),
                    (0x80, 0x84), (0x80, 0x82), (0x80, 0x46), (0x80, 0xD6), (0x80, 0xD8),
                    (0x80, 0x0E), (0x80, 0x2C), (0x80, 0xE6)]:
        assert successes.get(cla_ins, 0) > 0 or N < 10000, f"{cla_ins} never succeeded"
    assert elapsed < 60 or N > 100000


def _invariants(before: CardState, after: CardState, apdu: bytes, sw: int) -> None:
    """Every change of the lasting state goes through ``_commit``, which replaces the state
    object: an unchanged object is an unchanged card."""
    wrong_pin = sw & 0xFFF0 == 0x63C0 and len(apdu) > 5 and apdu[1] == 0x20
    issuer = sw == 0x9000 and apdu[0] == 0x80 and apdu[1] in (0x0E, 0xE6, 0x2C)
    if sw != 0x9000 and not wrong_pin:
        assert after is before, f"refused with {sw:04X} but the card changed"
    for pid, rec in after.pins.items():
        old = before.pins[pid].tries
        if rec.tries < old and issuer:  # the authenticated issuer's ERASE / WIPE / SET TRIES
            continue
        if rec.tries < old:
            assert wrong_pin and rec.tries == old - 1, f"{pid.value}: {old} -> {rec.tries}"
            assert sum(r.tries != before.pins[k].tries for k, r in after.pins.items()) == 1
        elif rec.tries > old:  # a correct VERIFY, or the issuer's RESET / SET TRIES
            assert sw == 0x9000 and apdu[1] in (0x20, 0x2C, 0x24), (
                f"{pid.value}: {old} -> {rec.tries} on {sw:04X}")


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.binary(max_size=270), min_size=1, max_size=6))
def test_any_bytes_in_any_state(snapshot, apdus):
    raw, _ = snapshot
    card = VirtualCard(CardState.from_json(raw), MemorySaver())
    check(card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")))
    check(card.transmit(bytes.fromhex("00A4020C02001B")))
    check(card.transmit(A.build(0, 0x20, 0, 0x80, SIGN_PIN.encode())))
    for apdu in apdus:
        check(card.transmit(apdu))

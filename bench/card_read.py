"""Benchmark: reading the four facts and the whole card face through pcscd + vpcd, against
the same reads in process (``VirtualCard.transmit``), side by side in one run.

    .venv/bin/python bench/card_read.py [--quick] [--record] [-n N]

Needs pcscd with the vpcd reader and no card in "Virtual PCD 00 00" (as bench/card_sign.py).
A card is made in a temporary home — JPKI issued with a throwaway CA, the 券面事項入力補助AP
and 券面事項確認AP personalised with synthetic facts and images — and put into the reader by
the real bridge (``VpcdBridge``, what ``openjpki card insert`` runs) in a thread of this
process, so that the two paths can be interleaved run by run: a correct VERIFY makes fsync'd
writes (R1.4) whose cost swings with the disk's load, and alternating the paths lets both
see the same swings.

Measured, as medians, each the same APDUs on both paths:
- ``facts``: SELECT 券面事項入力補助AP, VERIFY its PIN (by SFI), READ BINARY EF 0002 whole
  (extended Le, by SFI) — what form-filling clients do (target: PC/SC overhead ≤ 2 ms);
- ``face``: SELECT 券面事項確認AP, VERIFY 照合番号B, READ EF 0001 and 0002 whole (one
  extended answer of several KB each) and EF 0003 (target: under 100 ms through PC/SC);
- ``face, short reads``: the same with 256-byte short READ BINARYs, as older clients do.
``--record`` writes the results into the "Card reads" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from card_sign import _connect, _reader0, make_card as make_jpki_card, wait_removed  # noqa: E402

from openjpki.card import CardStore, IssuingTerminal  # noqa: E402
from openjpki.card import apdu as A  # noqa: E402
from openjpki.card.apps import AIDS, App  # noqa: E402
from openjpki.card.personal import CardFacts, card_files  # noqa: E402
from openjpki.card.pins import PinId  # noqa: E402
from openjpki.card.vpcd import VpcdBridge  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "BENCHMARKS.md"
CARD_ID = "BENCH1"
INPUT_PIN = "1234"
FACTS = CardFacts(individual_number="999012345675", name="山田　花子",
                  address="埼玉県川口市青木二丁目１番１号　川口ハイツ１０１号室",
                  birth_date=dt.date(1990, 4, 1), sex=2, card_expiry=dt.date(2035, 4, 1),
                  security_code="5678")
FACTS_TARGET_MS, FACE_TARGET_MS = 2.0, 100.0


def personalise(cards_dir: Path, secret: bytes) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with CardStore(cards_dir).open(CARD_ID) as card:
        IssuingTerminal(card, secret).personalise(
            card_files(FACTS, key), {**FACTS.derived_pins(), PinId.INPUT: INPUT_PIN})


def _select(app: App) -> bytes:
    return A.build(0, 0xA4, 4, 0x0C, AIDS[app])


def _check(r: bytes, what: str) -> bytes:
    if r[-2:] != b"\x90\x00":
        raise SystemExit(f"{what}: card answered {r[-2:].hex()}")
    return r[:-2]


def read_facts(tx) -> bytes:
    _check(tx(_select(App.INPUT)), "SELECT")
    _check(tx(A.build(0, 0x20, 0, 0x91, INPUT_PIN.encode())), "VERIFY")
    return _check(tx(A.build(0, 0xB0, 0x82, 0, le=65536, extended=True)), "READ 0002")


def read_face(tx, *, short: bool = False) -> int:
    _check(tx(_select(App.FACE)), "SELECT")
    _check(tx(A.build(0, 0x20, 0, 0x92, FACTS.pin_b.encode())), "VERIFY")
    total = 0
    for sfi in (1, 2, 3):
        if not short:
            total += len(_check(tx(A.build(0, 0xB0, 0x80 | sfi, 0, le=65536, extended=True)),
                                "READ"))
            continue
        data = _check(tx(A.build(0, 0xB0, 0x80 | sfi, 0, le=256)), "READ")
        got = data
        while len(data) == 256:
            data = _check(tx(A.build(0, 0xB0, len(got) >> 8, len(got) & 0xFF, le=256)), "READ")
            got += data
        total += len(got)
    return total


def _interleaved(fn, a, b, n: int) -> tuple[float, float]:
    """Median ms of ``fn(a)`` and ``fn(b)``, run alternately ``n`` times each."""
    fn(a), fn(b)  # warm up
    ta, tb = [], []
    for _ in range(n):
        for tx, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn(tx)
            out.append(time.perf_counter() - t0)
    return statistics.median(ta) * 1000, statistics.median(tb) * 1000


def bench(home: Path, n: int) -> tuple[dict[str, float], dict[str, float], int]:
    card = CardStore(home / "cards").open(CARD_ID)
    bridge = VpcdBridge(card, on_event=lambda m: None)
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    lock = threading.Lock()  # the in-process path takes its turn like a reader would

    def local(apdu: bytes) -> bytes:
        with lock:
            return card.transmit(apdu)
    try:
        conn = _connect()

        def pcsc(apdu: bytes) -> bytes:
            data, sw1, sw2 = conn.transmit(list(apdu))
            return bytes(data) + bytes((sw1, sw2))
        face_n = max(5, n // 3)
        inproc, remote = {}, {}
        for key, fn, runs in (("facts", read_facts, n), ("face", read_face, face_n),
                              ("face_short", lambda tx: read_face(tx, short=True), face_n),
                              ("reads_only", _reads_only, n)):
            inproc[key], remote[key] = _interleaved(fn, local, pcsc, runs)
        face_bytes = read_face(local)
        conn.disconnect()
    finally:
        bridge.stop()
        thread.join(10)
        card.close()
        wait_removed()
    return inproc, remote, face_bytes


def _reads_only(tx) -> None:
    """The transport alone: the face EFs read again, no VERIFY (no disk writes)."""
    for sfi in (1, 2, 3):
        _check(tx(A.build(0, 0xB0, 0x80 | sfi, 0, le=65536, extended=True)), "READ")


def _no_card_in_reader() -> None:
    conn = _reader0().createConnection()
    try:
        conn.connect()
    except Exception:  # noqa: BLE001 — no card: good
        return
    conn.disconnect()
    raise SystemExit("a card is already in 'Virtual PCD 00 00'; remove it first")


def record(inproc: dict, pcsc: dict, face_bytes: int, n: int) -> None:
    rows = [("four facts (SELECT, VERIFY, READ 0002 extended)", "facts",
             f"≤ {FACTS_TARGET_MS:g} ms overhead"),
            ("whole card face (SELECT, VERIFY B, READ 0001–0003 extended)", "face",
             f"< {FACE_TARGET_MS:g} ms"),
            ("whole card face, 256-byte short reads", "face_short", ""),
            ("face EFs read again, no VERIFY (transport alone)", "reads_only", "")]
    lines = ["## Card reads", "",
             f"`bench/card_read.py` on {dt.date.today().isoformat()} ({platform.machine()}, "
             f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python "
             f"{platform.python_version()}; medians of {n} runs, the face {max(5, n // 3)}). "
             f"The same APDUs in process (`VirtualCard.transmit`) and through pcscd + vpcd "
             f"(pyscard); the card face is {face_bytes:,} bytes. A VERIFY with the right PIN "
             "makes two fsync'd writes of the card state (R1.4) on both paths.", "",
             "| read | in process ms | pcscd + vpcd ms | overhead ms | ratio | target |",
             "|---|---|---|---|---|---|"]
    for label, key, target in rows:
        lines.append(f"| {label} | {inproc[key]:.2f} | {pcsc[key]:.2f} | "
                     f"**{pcsc[key] - inproc[key]:.2f}** | {pcsc[key] / inproc[key]:.2f}× | "
                     f"{target} |")
    section = "\n".join(lines + [""])
    text = DOCS.read_text()
    start = text.find("\n## Card reads\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start + 1] + section + (text[end + 1:] if end >= 0 else "")
    else:
        at = text.find("\n## Verification\n")
        text = text[:at + 1] + section + "\n" + text[at + 1:] if at >= 0 else (
            text.rstrip("\n") + "\n\n" + section)
    DOCS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few runs (for the test suite)")
    ap.add_argument("--record", action="store_true", help="write docs/BENCHMARKS.md")
    ap.add_argument("-n", type=int, default=None, help="runs per read")
    args = ap.parse_args(argv)
    n = args.n or (10 if args.quick else 200)
    _no_card_in_reader()
    with tempfile.TemporaryDirectory(prefix="openjpki-bench-") as tmp:
        home = Path(tmp)
        personalise(home / "cards", make_jpki_card(home / "cards"))
        inproc, pcsc, face_bytes = bench(home, n)
    for key, label in (("facts", "four facts"), ("face", "card face (extended)"),
                       ("face_short", "card face (short reads)"),
                       ("reads_only", "face EFs, no VERIFY")):
        print(f"{label:26s} in process {inproc[key]:7.2f} ms   pcscd+vpcd {pcsc[key]:7.2f} ms"
              f"   PC/SC overhead {pcsc[key] - inproc[key]:6.2f} ms   ratio "
              f"{pcsc[key] / inproc[key]:.2f}x")
    print(f"face bytes {face_bytes}; targets: facts overhead <= {FACTS_TARGET_MS:g} ms, "
          f"face through PC/SC < {FACE_TARGET_MS:g} ms")
    if args.record:
        record(inproc, pcsc, face_bytes, n)
        print(f"recorded in {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: one card signature through pcscd + vpcd against the same RSA sign in process,
and the wall time of OpenSC's `pkcs15-tool -D` against the virtual card.

    .venv/bin/python bench/card_sign.py [--quick] [--record]

Needs pcscd with the vpcd reader running (scripts/test starts it; by hand:
`source scripts/services; services_start`) and no card in "Virtual PCD 00 00". A card is
made in a temporary home, issued with a throwaway CA and put into the reader by
`openjpki card insert` (the real bridge, in its own process).

Measured, as medians:
- ``openssl``: the RSA-2048 PKCS#1 v1.5 signature alone (cryptography/OpenSSL, in process);
- ``card in process``: ``VirtualCard.transmit`` of the sign APDU (``80 2A 00 80`` + DigestInfo);
- ``card via PC/SC``: the same APDU sent with pyscard through pcscd, vpcd and the bridge.
The PC/SC overhead is ``via PC/SC - in process`` (target: at most 2 ms).
``--record`` writes the results into the "Card" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from openjpki.card import CardStore, IssuingTerminal, KeyKind
from openjpki.card import apdu as A
from openjpki.card.rsaops import SHA256_DIGESTINFO_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "BENCHMARKS.md"
CARD_ID = "BENCH1"
PIN = "1234"
DIGEST_INFO = SHA256_DIGESTINFO_PREFIX + hashlib.sha256(b"benchmark").digest()
SIGN_APDU = A.build(0x80, 0x2A, 0x00, 0x80, DIGEST_INFO, le=256)
TARGET_MS = 2.0


def _ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Benchmark CA")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_card(cards_dir: Path) -> bytes:
    """The bench card, issued; returns its issuing secret."""
    ca_key, ca = _ca()
    store = CardStore(cards_dir)
    secret = store.create(CARD_ID)
    with store.open(CARD_ID) as card:
        term = IssuingTerminal(card, secret)
        for serial, kind in enumerate(KeyKind, start=2):
            pub = term.generate_key(kind)
            cert = (x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kind.value)]))
                    .issuer_name(ca.subject).public_key(pub).serial_number(serial)
                    .not_valid_before(ca.not_valid_before_utc)
                    .not_valid_after(ca.not_valid_after_utc).sign(ca_key, hashes.SHA256()))
            term.write_certificate(kind, cert.public_bytes(Encoding.DER))
            term.write_ca_certificate(kind, ca.public_bytes(Encoding.DER))
        term.reset_pin(KeyKind.AUTH, PIN)
        term.reset_pin(KeyKind.SIGN, "ABC123")
    return secret


def _median_ms(fn, n: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _prepare(transmit) -> None:
    for apdu in (bytes.fromhex("00A4040C0AD392F000260100000001"), bytes.fromhex("00A4020C020018"),
                 A.build(0, 0x20, 0, 0x80, PIN.encode()), bytes.fromhex("00A4020C020017")):
        r = transmit(apdu)
        if r[-2:] != b"\x90\x00":
            raise SystemExit(f"card setup failed at {apdu.hex()}: {r[-2:].hex()}")


def bench_in_process(cards_dir: Path, n: int) -> dict[str, float]:
    store = CardStore(cards_dir)
    with store.open(CARD_ID) as card:
        _prepare(card.transmit)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # same size
        digest = DIGEST_INFO[-32:]
        openssl_ms = _median_ms(lambda: key.sign(digest, padding.PKCS1v15(),
                                                 utils.Prehashed(hashes.SHA256())), n)
        card_ms = _median_ms(lambda: card.transmit(SIGN_APDU), n)
    return {"openssl": openssl_ms, "in_process": card_ms}


def _reader0():
    from smartcard.System import readers
    for r in readers():
        if str(r).startswith("Virtual PCD 00 00"):
            return r
    raise SystemExit("no 'Virtual PCD 00 00' reader: start pcscd with vpcd "
                     "(source scripts/services; services_start)")


def _connect(timeout: float = 15.0):
    reader = _reader0()
    end = time.monotonic() + timeout
    while True:
        conn = reader.createConnection()
        try:
            conn.connect()
            return conn
        except Exception:  # noqa: BLE001
            if time.monotonic() > end:
                raise SystemExit("the card did not appear in the reader")
            time.sleep(0.1)


def wait_removed(timeout: float = 10.0) -> None:
    """Wait until pcscd sees no card in reader 0 (the next user of the reader finds it
    empty)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        conn = _reader0().createConnection()
        try:
            conn.connect()
            conn.disconnect()
        except Exception:  # noqa: BLE001 — no card: done
            return
        time.sleep(0.1)


def _wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - t0
    if r.returncode != 0 or "JPKI" not in r.stdout:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stdout[-500:]}{r.stderr[-500:]}")
    return seconds


def bench_pcsc(home: Path, n: int, pkcs15_runs: int) -> dict[str, float]:
    conn = _reader0().createConnection()
    try:
        conn.connect()
        conn.disconnect()
        raise SystemExit("a card is already in 'Virtual PCD 00 00'; remove it first")
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 — no card: good
        pass
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "card",
                             "insert", CARD_ID], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        conn = _connect()

        def transmit(apdu: bytes) -> bytes:
            data, sw1, sw2 = conn.transmit(list(apdu))
            return bytes(data) + bytes((sw1, sw2))
        _prepare(transmit)
        pcsc_ms = _median_ms(lambda: transmit(SIGN_APDU), n)
        select_ms = _median_ms(lambda: transmit(bytes.fromhex("00A4020C020017")), n)
        conn.disconnect()
        env = dict(os.environ)
        env.pop("OPENSC_DRIVER", None)
        probe = [_wall(["pkcs15-tool", "-D"], env) for _ in range(pkcs15_runs)]
        env["OPENSC_DRIVER"] = "jpki"
        direct = [_wall(["pkcs15-tool", "-D"], env) for _ in range(pkcs15_runs)]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        wait_removed()
    return {"pcsc": pcsc_ms, "select_rtt": select_ms,
            "pkcs15_probe": statistics.median(probe) * 1000,
            "pkcs15_jpki": statistics.median(direct) * 1000}


def record(results: dict[str, float], n: int) -> None:
    section = "\n".join([
        "## Card",
        "",
        f"`bench/card_sign.py` on {dt.date.today().isoformat()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python "
        f"{platform.python_version()}; medians of {n} runs). "
        "One RSA-2048 PKCS#1 v1.5 signature of a SHA-256 DigestInfo:",
        "",
        "| path | ms |",
        "|---|---|",
        f"| OpenSSL sign alone (cryptography, in process) | {results['openssl']:.2f} |",
        f"| virtual card in process (`VirtualCard.transmit`, sign APDU) | "
        f"{results['in_process']:.2f} |",
        f"| virtual card through pcscd + vpcd (pyscard) | {results['pcsc']:.2f} |",
        f"| **PC/SC overhead** (pcscd + vpcd − in process; target ≤ {TARGET_MS:g}) | "
        f"**{results['pcsc'] - results['in_process']:.2f}** |",
        f"| one small APDU round trip through pcscd + vpcd (SELECT EF) | "
        f"{results['select_rtt']:.2f} |",
        "",
        "| OpenSC `pkcs15-tool -D` against the virtual card (wall time) | ms |",
        "|---|---|",
        f"| with OpenSC's driver probing (no OPENSC_DRIVER) | {results['pkcs15_probe']:.0f} |",
        f"| `OPENSC_DRIVER=jpki` | {results['pkcs15_jpki']:.0f} |",
        "",
    ])
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    start = text.find("\n## Card\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start + 1] + section + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few runs (for the test suite)")
    ap.add_argument("--record", action="store_true", help="write docs/BENCHMARKS.md")
    ap.add_argument("-n", type=int, default=None, help="signatures per path")
    args = ap.parse_args(argv)
    n = args.n or (20 if args.quick else 300)
    pkcs15_runs = 2 if args.quick else 10
    with tempfile.TemporaryDirectory(prefix="openjpki-bench-") as tmp:
        home = Path(tmp)
        make_card(home / "cards")
        results = bench_in_process(home / "cards", n)
        results |= bench_pcsc(home, n, pkcs15_runs)
    overhead = results["pcsc"] - results["in_process"]
    print(f"OpenSSL sign alone         {results['openssl']:7.2f} ms")
    print(f"card in process            {results['in_process']:7.2f} ms")
    print(f"card via pcscd+vpcd        {results['pcsc']:7.2f} ms")
    print(f"PC/SC overhead             {overhead:7.2f} ms (target <= {TARGET_MS:g} ms; "
          f"ratio {results['pcsc'] / results['in_process']:.2f}x)")
    print(f"APDU round trip (SELECT)   {results['select_rtt']:7.2f} ms")
    print(f"pkcs15-tool -D             {results['pkcs15_probe']:7.0f} ms (probing), "
          f"{results['pkcs15_jpki']:.0f} ms (OPENSC_DRIVER=jpki)")
    if args.record:
        record(results, n)
        print(f"recorded in {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/card_sign.py --quick runs, and the PC/SC path stays fast: without TCP_QUICKACK a
signature through vpcd costs ~40 ms more (delayed ACKs), so a loose 10 ms bound catches it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "card_sign.py"


def test_card_sign_bench_quick(pcsc):
    r = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    overhead = float(re.search(r"PC/SC overhead\s+([\d.]+) ms", r.stdout).group(1))
    pkcs15 = float(re.search(r"pkcs15-tool -D\s+([\d.]+) ms", r.stdout).group(1))
    assert overhead < 10, r.stdout
    assert pkcs15 < 1000, r.stdout


READ_BENCH = BENCH.parent / "card_read.py"


def test_card_read_bench_quick(pcsc):
    """The facts and the face read through pcscd + vpcd, interleaved with the same reads in
    process: the transport alone (no VERIFY) stays well under the 2 ms target."""
    r = subprocess.run([sys.executable, str(READ_BENCH), "--quick"], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    transport = float(re.search(r"face EFs, no VERIFY.*PC/SC overhead\s+([\d.-]+) ms",
                                r.stdout).group(1))
    face = float(re.search(r"card face \(extended\).*pcscd\+vpcd\s+([\d.]+) ms",
                           r.stdout).group(1))
    assert transport < 5, r.stdout
    assert face < 1000, r.stdout  # the 100 ms target is the machine's; this catches a hang

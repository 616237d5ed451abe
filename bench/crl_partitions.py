"""The parts of ``bench/crl_bench.py`` for the nation's SIGN CRLs and for serve:

* ``--partitions P``: N revoked SIGN certificates spread over P municipalities (partitions of
  the SIGN CRL, each with its CRL series row, as issuance makes them). Ours: one
  ``openjpki crl generate --kind sign`` writes every partition's CRL (and the full list).
  openssl: one directory per partition (its own ``index.txt``, ``crlnumber`` and
  configuration, the same CA key) and a shell script running ``openssl ca -gencrl`` once
  per partition, as an operator would script it; the script is the measured child.
* ``--serve``: ``openjpki serve`` on the home, the full SIGN CRL asked over and over with
  wrk (keep-alive, 4 connections): GET latency p50/p99, beside ``openssl ca -gencrl`` making
  the same list.
* the encoding of the entries (done once per revocation, when the status changes, and
  stored): measured in a child for the same N and reported beside the timed path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

OPENSSL_SCRIPT = """#!/bin/sh
# openssl ca -gencrl once per partition (what an operator without one command would run)
set -e
for d in "$1"/*/; do
  openssl ca -gencrl -config "$d/ca.cnf" -out "$d/crl.pem" -passin "$2" 2>/dev/null
done
"""


def places(count: int) -> list[tuple[str, str]]:
    """``count`` distinct (prefecture, municipality) pairs, 47 prefectures in turn."""
    return [(f"県{i % 47:02d}", f"市町村{i:04d}") for i in range(count)]


def child_setup(workdir: str, entries: str, partitions: str, now_iso: str, seed: str) -> None:
    from datetime import datetime, timedelta

    from cryptography.hazmat.primitives import serialization

    from crl_bench import make_home, openssl_ca_dir, passphrase_arg, populate
    from openjpki.pki import partition_id
    from openjpki.services.authority_home import open_authorities

    wd = Path(workdir)
    now = datetime.fromisoformat(now_iso)
    settings = make_home(wd / "home", now - timedelta(days=4 * 365 + 30))
    by_partition: dict[str, list[str]] = {}
    chosen = places(int(partitions))
    pop = populate(settings, None, int(entries), now=now, seed=int(seed), places=chosen, by_partition=by_partition)
    service = open_authorities(settings)
    root_pem = service.root("sign").public_bytes(serialization.Encoding.PEM)
    service.store.dispose()
    parts = wd / "openssl" / "parts"
    for p, m in chosen:
        pid = partition_id(p, m)
        d = openssl_ca_dir(parts / pid, settings, root_pem)
        (d / "index.txt").write_text("".join(by_partition.get(pid, [])))
    script = wd / "openssl" / "gencrl.sh"
    script.write_text(OPENSSL_SCRIPT)
    print(json.dumps({"seconds": pop.seconds, "home": str(settings.home), "root": str(wd / "openssl" / "root.pem"),
                      "parts": str(parts), "script": str(script), "passin": passphrase_arg(settings),
                      "sample": pop.serials_sample, "partitions": len(chosen)}))
    (wd / "openssl" / "root.pem").write_bytes(root_pem)


def child_check_partitions(ours_dir: str, parts_dir: str, root: str) -> None:
    """Both sides' partition CRLs: how many files and entries, and a few verified by openssl."""
    from cryptography import x509

    from crl_bench import openssl_verifies_crl

    ours = sorted(Path(ours_dir).glob("*.crl"))
    theirs = sorted(Path(parts_dir).glob("*/crl.pem"))
    out = {"ours_files": len(ours), "openssl_files": len(theirs),
           "ours_entries": sum(len(x509.load_der_x509_crl(f.read_bytes())) for f in ours),
           "openssl_entries": sum(len(x509.load_pem_x509_crl(f.read_bytes())) for f in theirs),
           "ours_verified": all(openssl_verifies_crl(f, Path(root), der=True) for f in ours[:: max(1, len(ours) // 5)]),
           "openssl_verified": all(openssl_verifies_crl(f, Path(root), der=False)
                                   for f in theirs[:: max(1, len(theirs) // 5)])}
    print(json.dumps(out))


def child_encode(entries: str) -> None:
    """CPU seconds of encoding ``entries`` CRL entries (encode_revoked_entry, as revocation
    does once per certificate)."""
    import random
    from datetime import datetime, timedelta, timezone

    from cryptography import x509

    from openjpki.pki import encode_revoked_entry

    rng = random.Random(3)
    now = datetime.now(timezone.utc)
    reasons = [x509.ReasonFlags.affiliation_changed, x509.ReasonFlags.superseded, None]
    args = [((1 << 126) | rng.getrandbits(126), now - timedelta(seconds=rng.randrange(10**8)), reasons[i % 3])
            for i in range(int(entries))]
    started = time.process_time()
    for serial, at, reason in args:
        encode_revoked_entry(serial, at, reason)
    seconds = time.process_time() - started
    print(json.dumps({"entries": int(entries), "cpu_seconds": round(seconds, 3),
                      "us_per_entry": round(seconds / max(1, int(entries)) * 1e6, 3)}))


_PCT = re.compile(r"^\s+(50|90|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def serve_latency(home: str, seconds: float = 5.0, connections: int = 4) -> dict:
    """``openjpki serve`` on the home: the full SIGN CRL asked for ``seconds`` by wrk."""
    import socket
    import signal
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENJPKI_CA_PASSPHRASE", "OPENJPKI_DATABASE_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", home, "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            process_group=0)
    url = f"http://127.0.0.1:{port}/crl/sign.crl"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    size = len(r.read())
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("serve did not answer /crl/sign.crl")
                time.sleep(0.3)
        p = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url],
                           capture_output=True, text=True, timeout=seconds + 120)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    text = p.stdout + p.stderr
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    pct = {f"p{k}_ms": round(float(v) * _UNIT[u], 3) for k, v, u in _PCT.findall(text)}
    return {"crl_bytes": size, "rps": float(rps.group(1)) if rps else None, **pct, "connections": connections}

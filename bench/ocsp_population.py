"""The population of ``bench/ocsp_bench.py`` (a child process, untimed): a home whose AUTH
authority holds N certificates, 5 % of them revoked with various reasons, the same entries in
an ``index.txt`` for ``openssl ocsp -index``, and the request mixes.

The rows are inserted straight into the store's ``certificates`` table in bulk (one
``executemany`` per batch, values bound through the table's own column types; each row
carries a real AUTH certificate DER, issued once through the service, so rows have their real
size); issuing a million through the service would take an hour and measure issuance.

Request mixes (RFC 5019 GET paths, SHA-1 CertID, no nonce, one per line; wrk cycles through
the file): ``uniform``, every certificate once in a random order; ``zipf``, ``max(N, 200,000)``
draws of a Zipf law (exponent 1) over the population in a random rank order, so a few
certificates are asked often and most rarely, as relying parties ask.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import os
import random
import re
import subprocess
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

REVOKED_EVERY = 20  # 5 %
OPENSSL_REASONS = ["keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"]
MIXES = ("uniform", "zipf")


def _sample_der(service, now: datetime) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return service.issue("auth", key.public_key(), now=now - timedelta(days=10),
                         last_valid_day=(now + timedelta(days=5 * 365)).date()).der


def _insert_rows(store, authority_id: int, rows: list[dict]) -> None:
    from sqlalchemy import insert

    from openjpki.store import Certificate

    table = Certificate.__table__
    engine = store.engine
    dialect = engine.dialect
    columns = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=columns)
    if compiled.positiontup is None:  # a named paramstyle (psycopg): Core's batched executemany
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
        return
    order = list(compiled.positiontup)
    processors = {c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns}

    def bound(column, value):
        p = processors[column]
        return p(value) if p is not None and value is not None else value

    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if dialect.name == "sqlite":  # a throwaway home: no waiting for the disk while loading
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-500000")
        cur.executemany(compiled.string, [tuple(bound(c, r[c]) for c in order) for r in rows])
        raw.commit()
    finally:
        raw.close()


def _row(i: int, serial: int, authority_id: int, der: bytes, now: datetime, index, known: dict) -> dict:
    """The i-th certificate's row (every REVOKED_EVERY-th revoked), its index.txt line written,
    and the first good and first revoked remembered in ``known``."""
    from cryptography import x509

    from openjpki.pki import encode_revoked_entry
    from openjpki.store import serial_hex

    not_before, not_after = now - timedelta(days=10), now + timedelta(days=5 * 365)
    expiry = not_after.strftime("%y%m%d%H%M%SZ")
    row = dict(serial=serial_hex(serial), authority_id=authority_id, kind="auth", subject_id=f"{i:016X}",
               resident_id=None, partition=None, not_before=not_before, not_after=not_after, der=der,
               status="good", reason=None, revoked_at=None, status_changed_at=None, revoked_entry=None,
               change_seq=0, issued_at=not_before)
    revoked = i % REVOKED_EVERY == 1
    if revoked:
        reason = OPENSSL_REASONS[(i // REVOKED_EVERY) % len(OPENSSL_REASONS)]
        at = now - timedelta(days=1, seconds=i)
        row.update(status="revoked", reason=reason, revoked_at=at, status_changed_at=at, change_seq=1,
                   revoked_entry=encode_revoked_entry(serial, at, x509.ReasonFlags(reason)))
        index.write(f"R\t{expiry}\t{at.strftime('%y%m%d%H%M%SZ')},{reason}\t{serial:X}\tunknown\t/C=JP/CN={i:016X}\n")
    else:
        index.write(f"V\t{expiry}\t\t{serial:X}\tunknown\t/C=JP/CN={i:016X}\n")
    known.setdefault("revoked" if revoked else "good", {"serial": f"0x{serial:x}", "index": i})
    return row


def populate(workdir: Path, n: int, seed: int = 1) -> dict:
    """Make the home, the rows, index.txt and both mixes; what the benchmark needs to know."""
    from cryptography.hazmat.primitives import serialization

    from openjpki.config import Settings
    from openjpki.pki import issuer_hashes
    from openjpki.pki.ocsp_lean import simple_request_der
    from openjpki.services.authority_home import initialise_home, open_authorities

    now = datetime.now(timezone.utc).replace(microsecond=0)
    settings = Settings.resolve(home=workdir / "home")
    initialise_home(settings, now=now - timedelta(days=30))
    # A day's validity, as responders of this size publish (docs/SCALE.md): no refresh of
    # the population falls inside the measured runs.
    config = settings.config_file.read_text()
    settings.config_file.write_text(config.replace("ocsp_validity_minutes = 60", "ocsp_validity_minutes = 1440"))
    service = open_authorities(settings)
    authority = service.current("auth")
    root = authority.root
    der = _sample_der(service, now)
    issuer = b"".join(issuer_hashes(root)["sha1"])
    rng = random.Random(seed)
    osl = workdir / "openssl"
    osl.mkdir(parents=True, exist_ok=True)
    serials: list[int] = []
    known: dict = {}
    with open(osl / "index.txt", "w", encoding="ascii") as index:
        for start in range(0, n, 50_000):
            rows = [_row(i, (1 << 126) | rng.getrandbits(126), authority.id, der, now, index, known)
                    for i in range(start, min(n, start + 50_000))]
            serials += [int(r["serial"], 16) for r in rows]
            _insert_rows(service.store, authority.id, rows)
    service.store.dispose()
    (osl / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))

    def path_of(serial: int) -> str:
        request = simple_request_der(issuer, serial)
        return urllib.parse.quote(base64.b64encode(request).decode(), safe="")

    encoded = [path_of(s) for s in serials]
    for status in known.values():
        status["ours"] = "/ocsp/" + encoded[status.pop("index")]
        status["openssl"] = "/" + status["ours"][len("/ocsp/"):]
    write_mixes(workdir, encoded, rng)
    return {"home": str(settings.home), "root": str(osl / "root.pem"), "index": str(osl / "index.txt"),
            "key": str(settings.keys_dir / "auth-1.key"), "passin": f"file:{settings.keys_dir / 'passphrase'}",
            "known": known, "certs": n, "revoked": n // REVOKED_EVERY, "date": now.isoformat()}


def write_mixes(workdir: Path, encoded: list[str], rng: random.Random) -> None:
    """paths-<mix>-ours.txt and paths-<mix>-openssl.txt for both mixes."""
    n = len(encoded)
    uniform = list(range(n))
    rng.shuffle(uniform)
    ranks = list(range(n))
    rng.shuffle(ranks)  # rank r is certificate ranks[r]
    cumulative = list(itertools.accumulate(1.0 / (r + 1) for r in range(n)))
    total = cumulative[-1]
    draws = max(n, 200_000)
    zipf = [ranks[min(n - 1, bisect.bisect_left(cumulative, rng.random() * total))] for _ in range(draws)]
    for mix, order in (("uniform", uniform), ("zipf", zipf)):
        with open(workdir / f"paths-{mix}-ours.txt", "w") as ours, \
                open(workdir / f"paths-{mix}-openssl.txt", "w") as theirs:
            for i in order:
                ours.write(f"/ocsp/{encoded[i]}\n")
                theirs.write(f"/{encoded[i]}\n")
        (workdir / f"mix-{mix}.json").write_text(json.dumps(
            {"requests": len(order), "distinct": len(set(order))}))


# --- measuring helpers of ocsp_bench ------------------------------------------------------------


def rss_mb(pid: int) -> list[float]:
    """Resident memory (MB) of a server process and of each of its worker processes."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            pids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    sizes = []
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            sizes.append(round(kb / 1024, 1))
        except (OSError, StopIteration, ValueError):
            pass
    return sizes


_R1 = re.compile(r"^\+R1:(\d+):2048:([0-9.]+)$", re.M)


def openssl_speed(seconds: int = 3) -> dict:
    """``openssl speed -mr -seconds N rsa2048``: RSA-2048 signatures per CPU (user) second."""
    p = subprocess.run(["openssl", "speed", "-mr", "-seconds", str(seconds), "rsa2048"], capture_output=True,
                       text=True, timeout=seconds * 4 + 60)
    m = _R1.search(p.stdout + p.stderr)
    if p.returncode != 0 or m is None:
        raise SystemExit(f"openssl speed failed:\n{(p.stdout + p.stderr)[-2000:]}")
    ops, cpu = int(m.group(1)), float(m.group(2))
    return {"signs": ops, "cpu_seconds": cpu, "per_cpu_second": round(ops / cpu, 1)}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a server process and its worker processes so far (Linux
    /proc; 0 where it cannot be read)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            pids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total

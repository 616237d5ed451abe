"""Where a counter issuance's CPU goes: bench/issue_bench.py's ``counter`` mode split into its
phases (not a benchmark against a reference: a profile, to find what to make cheaper).

Phases, CPU time of this process per issuance: ``sign_row`` (the certificate made and
signed, its row's values), ``begin`` (the session, the connection, BEGIN), ``store_rows``
(the holder's supersede check (R3.7), the row, its OCSP row), ``audit`` (the entry checked
and kept with the session) and ``commit`` (the audit chain's statements, then COMMIT).
``--cprofile`` prints the functions that cost most instead.

    python bench/issue_profile.py                        # SQLite in a temporary home
    python bench/issue_profile.py --database-url URL     # a PostgreSQL database (an empty schema)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import issue_bench  # noqa: E402

PHASES = ("sign_row", "begin", "store_rows", "audit", "commit")


def issuer(workdir: Path):
    """One counter issuance as a function of ``i`` adding each phase's CPU time to ``acc``."""
    from cryptography.hazmat.primitives import serialization

    from openjpki.config import Settings
    from openjpki.pki import Kind, SignFacts
    from openjpki.services import audit
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.authority_issue import IssueRequest, sign_row, store_rows

    service = open_authorities(Settings.resolve(home=workdir / "home"))
    keys = [serialization.load_der_public_key(bytes.fromhex(h))
            for h in json.loads((workdir / "card-keys.json").read_text())]
    facts = [SignFacts(*f) for f in issue_bench.FACTS]
    now = datetime.now().astimezone().replace(microsecond=0) - timedelta(hours=1)
    last_day = (now + timedelta(days=5 * 365)).date()
    run = secrets.token_hex(4)

    def one(i: int, acc: dict) -> None:
        clock = time.process_time
        marks = [clock()]
        place = issue_bench.PLACES[i % len(issue_bench.PLACES)]
        req = IssueRequest(Kind.SIGN, keys[i % len(keys)], last_day, prefecture=place[0],
                           municipality=place[1], facts=facts[i % len(facts)], resident_id=f"p-{run}-{i}")
        row = sign_row(service, req, now)
        marks.append(clock())
        with service.store.transaction() as s:
            s.connection()
            marks.append(clock())
            store_rows(service, s, [row], now)
            marks.append(clock())
            audit.record(s, "bench.issuance", now, subject=f"resident:p-{run}-{i}", serial=row["serial"])
            marks.append(clock())
        marks.append(clock())
        for phase, a, b in zip(PHASES, marks, marks[1:]):
            acc[phase] += b - a

    return one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--json", action="store_true", help="then one JSON line (µs per phase)")
    args = parser.parse_args(argv)
    if args.database_url:
        os.environ["OPENJPKI_DATABASE_URL"] = args.database_url
    workdir = Path(tempfile.mkdtemp(prefix="openjpki-issue-profile-"))
    try:
        issue_bench.child_setup(str(workdir), "8")
        one = issuer(workdir)
        acc = dict.fromkeys(PHASES, 0.0)
        for i in range(20):  # warm
            one(i, dict(acc))
        profile = cProfile.Profile() if args.cprofile else None
        if profile:
            profile.enable()
        for i in range(20, 20 + args.count):
            one(i, acc)
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        total = sum(acc.values())
        print("  ".join(f"{p} {acc[p] / args.count * 1e6:.0f} µs" for p in PHASES),
              f" total {total / args.count * 1e6:.0f} µs ({args.count / total:.0f} per CPU second, "
              f"load average {os.getloadavg()[0]:.2f})")
        if args.json:
            print(json.dumps({"bench": "issue-profile", "count": args.count,
                              "phases_us": {p: round(acc[p] / args.count * 1e6, 1) for p in PHASES},
                              "per_cpu_second": round(args.count / total, 1)}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

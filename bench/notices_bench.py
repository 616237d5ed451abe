"""Benchmark: the expiry-notice selection (R3.4) over a large register, on SQLite and on
PostgreSQL, timed apart from the PDF rendering of the letters.

    .venv/bin/python bench/notices_bench.py [--residents 1000000] [--backend both]
                                            [--quick] [--record]

The store is made by the migrations, then bulk-loaded (not timed): N residents, each with
an active card carrying SIGN and AUTH certificates whose last valid days are spread evenly
over five years (as issuance spreads them), 2 % foreign residents whose validity ends with
their stay (R2.3, no notice), 1 % SIGN revoked after a move (R4.1, no SIGN notice), 3 % no
longer on the register. Then, timed:

- ``catch-up``: the first run ever — no notice sent yet, so the whole window (expiries from
  the batch day to three months ahead) is due: about 5 % of the certificates;
- ``daily``: the run of a normal day — every notice due on earlier days was sent (those rows
  are loaded into ``expiry_notices``), so only one day's expiries come out.

Each is the streamed set-based SELECT of :mod:`openjpki.services.notices_select` read to the
end (plus its COUNT for the progress bar), best of three; the figure of merit is residents
on the register scanned per second (N / time) and rows delivered per second. Rendering is
timed alone: letters (notice + inquiry form, two PDF pages with the IPA fonts) per second.

PostgreSQL comes from ``$OPENJPKI_TEST_POSTGRES_URL``, or a throwaway cluster the bench
starts (``/usr/lib/postgresql/*/bin``, as scripts/services.d/postgres.sh does) and stops.
``--quick`` is a small run for the test suite (5 000 residents, SQLite only unless a URL is
set). ``--record`` writes the "Notices" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import text  # noqa: E402

from openjpki.rules import expiry_notice_on  # noqa: E402
from openjpki.services.letters_pdf import register_fonts  # noqa: E402
from openjpki.services.letters_pdf_notice import (  # noqa: E402
    NoticeItem, NoticeLetter, render_expiry_notice,
)
from openjpki.services.notices_select import (  # noqa: E402
    count_due, notice_window, stream_due, tune_for_batch, untune,
)
from openjpki.store import Store  # noqa: E402

DOCS = ROOT / "docs" / "BENCHMARKS.md"
ON = date(2027, 6, 1)          # the batch day
SPREAD_FROM = date(2026, 6, 1)  # last valid days spread over five years from here
SPREAD_DAYS = 5 * 365
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
CHUNK = 50_000


# --- the register --------------------------------------------------------------------------------

def rows(n: int, seed: int = 7) -> Iterator[tuple[tuple, tuple, tuple, tuple]]:
    """For residents 1..n: (resident, card, card certificates, authority certificates), as
    tuples in the column order of :data:`TABLES` (the fast way to load a million rows)."""
    rnd = random.Random(seed)
    day0 = SPREAD_FROM.toordinal()
    for i in range(1, n + 1):
        x = rnd.random()
        foreign, on_register, sign_revoked = x < 0.02, not 0.02 <= x < 0.05, 0.05 <= x < 0.06
        last = date.fromordinal(day0 + rnd.randrange(SPREAD_DAYS))
        birth = date(1940 + rnd.randrange(65), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
        resident = (i, f"住民　{i}", f"埼玉県川口市青木{i % 5 + 1}丁目{i % 97 + 1}番", birth,
                    1 + i % 2, f"H{i:010d}", "head", False, False, foreign,
                    last if foreign else None, "112038", "埼玉県", "川口市", on_register, NOW, NOW)
        card = (i, f"{i:012d}", i, last - timedelta(days=1826), last + timedelta(days=1826),
                "active", True, False, False, f"mnc-{i:012d}", 0, False, NOW)
        sign, auth = f"5{i:015x}", f"a{i:015x}"
        links = ((i, "sign", sign, last, "R2.2" if foreign else "R2.1", True, NOW),
                 (i, "auth", auth, last, "R2.3" if foreign else "R2.1", True, NOW))
        not_after = datetime(last.year, last.month, last.day, 14, 59, 59, tzinfo=timezone.utc)
        certs = (
            (sign, 1, "sign", f"S{i:015d}", str(i), NOW, not_after, b"\x30\x00",
             "revoked" if sign_revoked else "good",
             "affiliationChanged" if sign_revoked else None, NOW if sign_revoked else None,
             b"\x30\x00" if sign_revoked else None, 0, NOW),
            (auth, 2, "auth", f"A{i:015d}", str(i), NOW, not_after, b"\x30\x00", "good", None,
             None, None, 0, NOW))
        yield resident, card, links, certs


TABLES = {
    "residents": ["id", "name", "address", "birth_date", "sex", "household_id", "relationship",
                  "honseki_here", "adult_ward", "foreign_resident", "stay_until",
                  "municipality_code", "prefecture", "municipality", "on_register",
                  "registered_at", "updated_at"],
    "cards": ["id", "card_number", "resident_id", "issued_on", "expires_on", "state",
              "face_up_to_date", "sign_declined", "auth_declined", "virtual_card_id",
              "card_pin_failures", "card_pin_locked", "created_at"],
    "card_certificates": ["card_id", "kind", "serial", "not_after", "expiry_rule", "current",
                          "written_at"],
    "certificates": ["serial", "authority_id", "kind", "subject_id", "resident_id",
                     "not_before", "not_after", "der", "status", "reason", "revoked_at",
                     "revoked_entry", "change_seq", "issued_at"],
}


def _authorities(store: Store) -> None:
    with store.engine.begin() as conn:
        for i, kind in ((1, "sign"), (2, "auth")):
            conn.execute(text(
                "INSERT INTO authorities (id, kind, generation, environment, root_der, key_file,"
                " options, revision, created_at) VALUES (:id, :kind, 1, 'test', :der, 'none',"
                " '{}', 0, :at)"), dict(id=i, kind=kind, der=b"\x30\x00",
                                        at=NOW if store.dialect != "sqlite"
                                        else NOW.replace(tzinfo=None)))


def load(store: Store, n: int) -> float:
    """Bulk-load the register (not part of any timed figure); returns seconds taken."""
    start = time.perf_counter()
    _authorities(store)
    batches: dict[str, list] = {t: [] for t in TABLES}

    def flush() -> None:
        if store.dialect == "sqlite":
            _flush_sqlite(store, batches)
        else:
            _flush_postgres(store, batches)
        for v in batches.values():
            v.clear()
    for r, c, links, certs in rows(n):
        batches["residents"].append(r)
        batches["cards"].append(c)
        batches["card_certificates"].extend(links)
        batches["certificates"].extend(certs)
        if len(batches["residents"]) >= CHUNK:
            flush()
    flush()
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    if store.dialect == "postgresql":  # a settled table: the visibility map lets the
        with store.engine.connect() as conn:  # planner walk the covering index alone
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
    return time.perf_counter() - start


def _sqlite_value(v):
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


def _flush_sqlite(store: Store, batches: dict[str, list]) -> None:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, cols in TABLES.items():
            if not batches[table]:
                continue
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            cur.executemany(sql, [tuple(map(_sqlite_value, row)) for row in batches[table]])
        raw.commit()
    finally:
        raw.close()


def _pg_text(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, bytes):
        return "\\\\x" + v.hex()
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _flush_postgres(store: Store, batches: dict[str, list]) -> None:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, cols in TABLES.items():
            if not batches[table]:
                continue
            buf = io.StringIO()
            for row in batches[table]:
                buf.write("\t".join(map(_pg_text, row)) + "\n")
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()


def presend(store: Store, on: date) -> int:
    """Record as sent every notice that was due on a day before ``on`` (a normal day's
    state), by one INSERT … SELECT; returns how many."""
    _, last_before = notice_window(on - timedelta(days=1))
    with store.engine.begin() as conn:
        result = conn.execute(text(
            "INSERT INTO expiry_notices (serial, kind, resident_id, card_id, not_after,"
            " batch_on, reference, path, sent_at)"
            " SELECT cc.serial, cc.kind, c.resident_id, c.id, cc.not_after, :before,"
            " 'EXP-PRE-' || cc.id, NULL, :at FROM card_certificates cc"
            " JOIN cards c ON c.id = cc.card_id"
            " WHERE cc.not_after >= :first AND cc.not_after <= :last"),
            dict(before=on - timedelta(days=1), first=on - timedelta(days=1), last=last_before,
                 at=NOW if store.dialect != "sqlite" else NOW.replace(tzinfo=None)))
        conn.execute(text("ANALYZE"))
        count = result.rowcount
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM expiry_notices, card_certificates")
    return count


# --- timing ------------------------------------------------------------------------------------

def time_selection(store: Store, on: date, repeat: int = 3) -> dict:
    best_count = best_stream = float("inf")
    rows_out = holders = 0
    for _ in range(repeat):
        with store.engine.connect() as conn:
            t0 = time.perf_counter()
            tune_for_batch(conn)
            total = count_due(conn, on)
            t1 = time.perf_counter()
            seen = set()
            k = 0
            for row in stream_due(conn, on):
                k += 1
                seen.add(row.resident_id)
            t2 = time.perf_counter()
            conn.rollback()
            untune(conn)
        best_count, best_stream = min(best_count, t1 - t0), min(best_stream, t2 - t1)
        rows_out, holders = k, len(seen)
        assert total == k, (total, k)
    return {"count_s": best_count, "stream_s": best_stream, "rows": rows_out,
            "holders": holders}


def time_rendering(k: int) -> dict:
    t0 = time.perf_counter()
    register_fonts()
    fonts = time.perf_counter() - t0
    letter = NoticeLetter("EXP-BENC-HMAR-KXYZ", ON, "山田　太郎", "埼玉県川口市青木二丁目1番1号",
                          date(1980, 5, 15), "川口市", "埼玉県", "1234",
                          (NoticeItem("sign", date(2027, 8, 1), "1"),
                           NoticeItem("auth", date(2027, 8, 1), "2")))
    render_expiry_notice(letter)  # warm
    t1 = time.perf_counter()
    size = 0
    for _ in range(k):
        size = len(render_expiry_notice(letter))
    seconds = time.perf_counter() - t1
    return {"fonts_s": fonts, "letters": k, "seconds": seconds, "per_s": k / seconds,
            "bytes": size}


# --- stores --------------------------------------------------------------------------------------

@contextmanager
def sqlite_store(workdir: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{workdir / 'bench.sqlite3'}")
    try:
        store.migrate()
        yield store
    finally:
        store.dispose()


@contextmanager
def postgres_server() -> Iterator[str]:
    url = os.environ.get("OPENJPKI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if not bins:
        raise SystemExit("PostgreSQL: set $OPENJPKI_TEST_POSTGRES_URL or install postgresql")
    pg = bins[0]
    d = Path(tempfile.mkdtemp(prefix="openjpki-bench-pg."))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        os.chmod(d, 0o755)
        if as_pg:
            shutil.chown(d, "postgres")
        subprocess.run(as_pg + [str(pg / "initdb"), "-D", str(d / "data"), "-U", "openjpki",
                                "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True)
        subprocess.run(as_pg + [str(pg / "pg_ctl"), "-D", str(d / "data"), "-l",
                                str(d / "server.log"), "-w", "-t", "60", "-o",
                                f"-c listen_addresses=127.0.0.1 -p {port} -k {d} -c fsync=off"
                                " -c shared_buffers=256MB -c work_mem=64MB", "start"],
                       check=True, capture_output=True)
        subprocess.run(as_pg + [str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                                "openjpki", "bench"], check=True, capture_output=True)
        yield f"postgresql+psycopg://openjpki@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(as_pg + [str(pg / "pg_ctl"), "-D", str(d / "data"), "-m", "fast", "-w",
                                "stop"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


@contextmanager
def postgres_store() -> Iterator[Store]:
    from openjpki.store.testing import postgres_schema_url
    with postgres_server() as base, postgres_schema_url(base) as url:
        store = Store.open(url)
        try:
            store.migrate()
            yield store
        finally:
            store.dispose()


def run_backend(name: str, store: Store, n: int) -> dict:
    loaded = load(store, n)
    catch_up = time_selection(store, ON)
    sent = presend(store, ON)
    daily = time_selection(store, ON)
    out = {"backend": name, "residents": n, "load_s": loaded, "presend": sent}
    for label, t in (("catch_up", catch_up), ("daily", daily)):
        total = t["count_s"] + t["stream_s"]
        out[label] = {**t, "residents_per_s": n / total,
                      "rows_per_s": t["rows"] / t["stream_s"] if t["stream_s"] else None}
    return out


# --- report ----------------------------------------------------------------------------------------

def report(results: list[dict], rendering: dict) -> str:
    first, last = notice_window(ON)
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Notices",
        "",
        f"`bench/notices_bench.py` on {date.today().isoformat()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load_avg:.1f}, Python "
        f"{platform.python_version()}). The expiry-notice selection (R3.4) for the batch of "
        f"{ON.isoformat()} (expiries {first.isoformat()} to {last.isoformat()}): one streamed "
        "SELECT joining card certificates (walking the index that covers them, from the "
        "batch day), cards, residents and the authorities' status, `NOT EXISTS` against the notices sent; its COUNT for the "
        "progress bar included. Best of 3; the register bulk-loaded untimed.",
        "",
        "| backend | residents | run | certificates selected | holders | COUNT s | stream s "
        "| residents scanned / s | rows / s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for label, name in (("catch_up", "first run (whole window due)"),
                            ("daily", "a normal day (earlier days sent)")):
            t = r[label]
            rows_s = f"{t['rows_per_s']:,.0f}" if t["rows_per_s"] else "—"
            lines.append(f"| {r['backend']} | {r['residents']:,} | {name} | {t['rows']:,} | "
                         f"{t['holders']:,} | {t['count_s']:.3f} | {t['stream_s']:.3f} | "
                         f"{t['residents_per_s']:,.0f} | {rows_s} |")
    daily = ", ".join(f"{r['backend']} {r['daily']['count_s'] + r['daily']['stream_s']:.2f} s"
                      for r in results)
    letters = max((r["daily"]["holders"] for r in results), default=0)
    lines += [
        "",
        f"Rendering alone (notice + inquiry form, 2 A4 pages, IPA Mincho/Gothic subsets, "
        f"{rendering['bytes'] / 1024:.0f} KiB each): **{rendering['per_s']:.1f} letters/s** "
        f"on one core ({rendering['letters']} letters in {rendering['seconds']:.1f} s; "
        f"loading the two fonts once: {rendering['fonts_s']:.2f} s). A normal day's batch "
        f"selects in {daily} and then renders its {letters:,} letters in about "
        f"{letters / rendering['per_s']:.0f} s: the letters, not the selection, take the "
        "time.",
        "",
    ]
    return "\n".join(lines)


def record(section: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    start = text.find("\n## Notices")
    if start != -1:
        end = text.find("\n## ", start + 1)
        text = text[:start] + ("\n" + text[end + 1:] if end != -1 else "\n")
    text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, default=None,
                    help="register size (default 1 000 000; 5 000 with --quick)")
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--render", type=int, default=None,
                    help="letters to render for the rate (default 100; 3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a small run (for the test suite)")
    ap.add_argument("--record", action="store_true", help="write docs/BENCHMARKS.md")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)
    if a.quick:
        a.residents = a.residents or 5_000
        a.render = a.render or 3
        if a.backend == "both" and not os.environ.get("OPENJPKI_TEST_POSTGRES_URL"):
            a.backend = "sqlite"
    a.residents = a.residents or 1_000_000
    a.render = a.render or 100
    results = []
    if a.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp, sqlite_store(Path(tmp)) as store:
            results.append(run_backend("SQLite", store, a.residents))
            print(f"SQLite done: {json.dumps(results[-1]['daily'])}", file=sys.stderr)
    if a.backend in ("postgres", "both"):
        with postgres_store() as store:
            results.append(run_backend("PostgreSQL", store, a.residents))
            print(f"PostgreSQL done: {json.dumps(results[-1]['daily'])}", file=sys.stderr)
    rendering = time_rendering(a.render)
    section = report(results, rendering)
    if a.json:
        print(json.dumps({"results": results, "rendering": rendering}, indent=2))
    else:
        print(section)
    if a.record:
        record(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

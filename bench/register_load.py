"""A national-size register on PostgreSQL: N synthetic residents, each with a card and its
SIGN and AUTH certificates, loaded with COPY; then the paths that must stay fast on it.

    .venv/bin/python bench/register_load.py --residents 1000000 [--database-url URL] [--keep]
    .venv/bin/python bench/register_load.py --quick          # 20 000 residents, for tests

The store is a fresh schema of the database (``$OPENJPKI_TEST_POSTGRES_URL`` by default),
made by the migrations, with real authorities (file keys in a temporary home). Residents are
spread over 1,741 municipalities in the 47 prefectures (the SIGN CRL partitions); each
certificate row holds a real certificate DER (~1.3 KB, from a pool signed by the
authorities at the start: signing 2N certificates would time the signer, not the register)
and a unique serial; 1 % of SIGN certificates are revoked after a move (with their real
CRL entry), 0.3 % of AUTH are revoked. Expiries spread over five years.

Then, each timed: the day's expiry-notice selection (R3.4, streamed to the end), a full
SIGN CRL (written to a file, streamed from the covering index), OCSP's status lookup of a
random serial, and 200 counter issuances (a new resident, a new virtual card with both
certificates, PINs hashed, audit entries: one transaction each; card keys from a pool, as
keys are made on the card, not by the counter) with their p50/p99 latency; and the size of
the schema's tables and indexes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from sqlalchemy import text  # noqa: E402

from openjpki.pki import encode_revoked_entry, partition_id  # noqa: E402
from openjpki.services.authority import AuthorityService, IssueRequest, initialise  # noqa: E402
from openjpki.services.authority_testing import sample_facts  # noqa: E402
from openjpki.store import Store  # noqa: E402
from openjpki.store.testing import postgres_schema_url  # noqa: E402

PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 "
    "新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 "
    "奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 "
    "熊本県 大分県 宮崎県 鹿児島県 沖縄県").split()
MUNICIPALITIES = 1741
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
ON = date(2027, 6, 1)  # the notices' batch day
SPREAD_FROM, SPREAD_DAYS = date(2026, 6, 1), 5 * 365
CHUNK = 20_000
POOL = 64


def places() -> list[tuple[str, str, str, str]]:
    """(JIS-like code, prefecture, municipality, SIGN partition) of every municipality."""
    out = []
    for j in range(MUNICIPALITIES):
        pref = PREFECTURES[j % len(PREFECTURES)]
        muni = f"第{j // len(PREFECTURES) + 1}市"
        out.append((f"{j % 47 + 1:02d}{j:04d}"[:6], pref, muni, partition_id(pref, muni)))
    return out


def der_pool(service: AuthorityService) -> dict[str, list[bytes]]:
    """Real certificate DERs of both kinds, signed by the authorities (the rows' ``der``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    last = (NOW + timedelta(days=5 * 365)).date()
    reqs = [IssueRequest("sign", key, last, prefecture="東京都", municipality="千代田区",
                         facts=sample_facts()) for _ in range(POOL)]
    reqs += [IssueRequest("auth", key, last) for _ in range(POOL)]
    made = service.issue_many(reqs, now=NOW)
    with service.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM certificates"))  # only their bytes are kept
    return {"sign": [r.der for r in made[:POOL]], "auth": [r.der for r in made[POOL:]]}


COLUMNS = {
    "residents": "id, name, address, birth_date, sex, household_id, relationship, honseki_here, "
                 "adult_ward, foreign_resident, municipality_code, prefecture, municipality, "
                 "on_register, registered_at, updated_at",
    "cards": "id, card_number, resident_id, issued_on, expires_on, state, face_up_to_date, "
             "sign_declined, auth_declined, virtual_card_id, card_pin_failures, card_pin_locked, "
             "created_at",
    "card_certificates": "card_id, kind, serial, not_after, expiry_rule, current, written_at",
    "certificates": "serial, authority_id, kind, subject_id, resident_id, partition, not_before, "
                    "not_after, der, status, reason, revoked_at, status_changed_at, "
                    "revoked_entry, change_seq, issued_at",
}


def rows(lo: int, hi: int, where: list, ders: dict, ids: dict[str, int], seed: int = 7):
    rnd = random.Random(seed + lo)
    day0 = SPREAD_FROM.toordinal()
    out: dict[str, list] = {t: [] for t in COLUMNS}
    for i in range(lo, hi):
        code, pref, muni, part = where[i % len(where)]
        last = date.fromordinal(day0 + rnd.randrange(SPREAD_DAYS))
        birth = date(1940 + rnd.randrange(65), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
        out["residents"].append((i, f"住民　{i}", f"{pref}{muni}一丁目{i % 97 + 1}番", birth,
                                 1 + i % 2, f"H{i:010d}", "head", False, False, False, code,
                                 pref, muni, True, NOW, NOW))
        out["cards"].append((i, f"{i:012d}", i, last - timedelta(days=1826),
                             last + timedelta(days=1826), "active", True, False, False,
                             f"mnc-{i:012d}", 0, False, NOW))
        not_after = datetime(last.year, last.month, last.day, 14, 59, 59, tzinfo=timezone.utc)
        for kind, authority, share in (("sign", ids["sign"], 0.01), ("auth", ids["auth"], 0.003)):
            serial = f"{'5' if kind == 'sign' else 'a'}{i:015x}"
            revoked = rnd.random() < share
            entry = encode_revoked_entry(int(serial, 16), NOW, x509.ReasonFlags.affiliation_changed
                                         if kind == "sign" else x509.ReasonFlags.key_compromise) \
                if revoked else None
            reason = ("affiliationChanged" if kind == "sign" else "keyCompromise") if revoked else None
            out["card_certificates"].append((i, kind, serial, last, "R2.1", True, NOW))
            out["certificates"].append((
                serial, authority, kind, f"{kind[0].upper()}{i:015d}", str(i),
                part if kind == "sign" else None, NOW, not_after,
                ders[kind][i % POOL], "revoked" if revoked else "good", reason,
                NOW if revoked else None, NOW if revoked else None, entry, 0, NOW))
    return out


def load(store: Store, n: int, where: list, ders: dict, ids: dict) -> float:
    start = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for lo in range(1, n + 1, CHUNK):
            batch = rows(lo, min(n + 1, lo + CHUNK), where, ders, ids)
            for table, cols in COLUMNS.items():
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in batch[table]:
                        copy.write_row(row)
            raw.commit()
        for table in ("residents", "cards"):  # explicit ids: move the sequences past them
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
        for j, (_, pref, muni, part) in enumerate(where):
            cur.execute("INSERT INTO crl_series (authority_id, partition, prefecture, municipality,"
                        " last_number) VALUES (%s, %s, %s, %s, 0) ON CONFLICT DO NOTHING",
                        (ids["sign"], part, pref, muni))
        raw.commit()
    finally:
        raw.close()
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - start


def size(store: Store) -> dict:
    with store.engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
            " AND c.relkind = 'r'")).all()
    return {"total_bytes": sum(t[1] for t in tables), "heap_bytes": sum(t[2] for t in tables),
            "tables": {t[0]: t[1] for t in tables if t[1] > 1 << 20}}


def time_notices(store: Store) -> dict:
    from openjpki.services.notices_select import stream_due, tune_for_batch

    best = None
    for _ in range(2):
        with store.engine.begin() as conn:
            tune_for_batch(conn)
            t0 = time.perf_counter()
            count = sum(1 for _ in stream_due(conn, ON))
            took = time.perf_counter() - t0
        best = took if best is None else min(best, took)
    return {"seconds": round(best, 3), "due": count}


def time_crl(service: AuthorityService, workdir: Path) -> dict:
    t0 = time.perf_counter()
    written = service.write_crl("sign", workdir / "sign.crl", now=NOW + timedelta(hours=1))
    return {"seconds": round(time.perf_counter() - t0, 3), "entries": written.entries,
            "bytes": written.size}


def time_ocsp_lookup(store: Store, n: int) -> dict:
    from openjpki.store import queries as q

    rnd = random.Random(3)
    lat = []
    with store.sessions() as s:
        for _ in range(500):
            serial = f"a{rnd.randrange(1, n + 1):015x}"
            t0 = time.perf_counter()
            found = q.find_certificate(s, serial)
            lat.append(time.perf_counter() - t0)
            assert found is not None
    lat.sort()
    return {"p50_ms": round(lat[len(lat) // 2] * 1000, 3), "p99_ms": round(lat[int(len(lat) * .99)] * 1000, 3)}


def time_counter(store: Store, service: AuthorityService, workdir: Path, k: int) -> dict:
    from openjpki.card import CardStore, rsaops
    from openjpki.services.counter import (
        CounterContext, PinEntry, ResidentInput, SecretBox, add_resident, issue_new_card,
    )
    from openjpki.services.counter.results import Completed

    keys = itertools.cycle([rsa.generate_private_key(public_exponent=65537, key_size=2048)
                            for _ in range(8)])
    rsaops.generate_key = lambda: next(keys)  # keys are made on the card, not by the counter
    ctx = CounterContext(store=store, authority=service, cards=CardStore(workdir / "cards"),
                         box=SecretBox(os.urandom(32)))
    pins = PinEntry(card="1234", sign="ABC123", auth="5678")
    now = datetime.now(timezone.utc)
    lat = []
    for i in range(k):
        t0 = time.perf_counter()
        rid = add_resident(ctx, ResidentInput(name=f"窓口　{i}", address="東京都千代田区一丁目1番",
                                              birth_date=date(1980, 5, 15), sex="male"), now)["id"]
        out = issue_new_card(ctx, rid, pins, now=now)
        lat.append(time.perf_counter() - t0)
        assert isinstance(out, Completed), out
    lat.sort()
    return {"n": k, "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * .99))] * 1000, 1)}


def run(url: str, n: int, counter: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="openjpki-register-"))
    try:
        with postgres_schema_url(url) as schema_url:
            store = Store.open(schema_url)
            store.migrate()
            keys = workdir / "keys"
            passphrase = b"register bench"
            initialise(store, keys, passphrase, now=NOW - timedelta(days=1))
            service = AuthorityService(store, keys_dir=keys, passphrase=passphrase)
            ids = {a.kind: a.id for a in service.authorities()}
            where = places()
            loaded = load(store, n, where, der_pool(service), ids)
            result = {"bench": "register", "residents": n, "load_seconds": round(loaded, 1),
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      "size": size(store), "notices_daily": time_notices(store),
                      "crl_sign_full": time_crl(service, workdir),
                      "ocsp_lookup": time_ocsp_lookup(store, n),
                      "counter_issuance": time_counter(store, service, workdir, counter)}
            store.dispose()
            return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--counter", type=int, default=200, help="counter issuances timed")
    parser.add_argument("--database-url", default=os.environ.get("OPENJPKI_TEST_POSTGRES_URL"))
    parser.add_argument("--quick", action="store_true", help="20 000 residents, 20 issuances")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url:
        raise SystemExit("register_load: give --database-url (PostgreSQL) or set "
                         "$OPENJPKI_TEST_POSTGRES_URL")
    n, k = (20_000, 20) if args.quick else (args.residents, args.counter)
    r = run(args.database_url, n, k)
    per_million = r["size"]["total_bytes"] / n * 1e6
    print(f"register of {n:,} residents: loaded in {r['load_seconds']} s "
          f"({n / r['load_seconds']:,.0f} residents/s), {r['size']['total_bytes'] / 2**30:.2f} GiB "
          f"({per_million / 2**30:.2f} GiB per million), load average {r['load_average'][0]}")
    print(f"  notices of the day: {r['notices_daily']['due']} due in {r['notices_daily']['seconds']} s")
    print(f"  full SIGN CRL: {r['crl_sign_full']['entries']:,} entries in {r['crl_sign_full']['seconds']} s")
    print(f"  OCSP status lookup: p50 {r['ocsp_lookup']['p50_ms']} ms, p99 {r['ocsp_lookup']['p99_ms']} ms")
    c = r["counter_issuance"]
    print(f"  counter issuance (new card, both certificates): p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms of {c['n']}")
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

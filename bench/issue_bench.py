"""Issuing on the authority side, side by side with ``openssl speed rsa2048``.

What is compared: how many certificates per second ``issue_certificate`` makes (SIGN with the
holder's facts, and AUTH), against how many RSA-2048 signatures per second ``openssl speed``
makes on the same machine in the same run.  Every certificate costs one RSA-2048 signature,
so the ratio says how much issuing costs on top of the signature (target: >= 80 %).  Card
keys are generated beforehand (key generation happens on the card, not at the authority).

How it is measured, the same way for every side:
* ``openssl speed`` divides by the CPU user time it used (its default, see ``-elapsed``);
  our children divide by the CPU time (user + system) of their issuing loop, so a busy
  machine slows both alike.  Wall-clock rates are reported too.
* openssl and we alternate in rounds of ``--seconds / rounds`` each (openssl, ours,
  openssl, ours, ..., openssl); a round's ratio divides our rate by the mean of the openssl
  runs just before and after it, so a change of load during the run hits both sides.
* our side is one child process per round (``--child``) running its modes interleaved in
  batches of 8: ``sign`` / ``auth`` (issue_certificate), ``raw`` (the bare ``sign`` of the
  authority's signer: the ceiling for us, and what cryptography's OpenSSL does against the
  system's ``openssl``), ``service`` (AuthorityService.issue, including the database
  insert; for information), ``bulk`` (AuthorityService.issue_many: 64 certificates signed
  and stored in one transaction; target >= 60 % of openssl) and ``counter`` (one counter
  issuance: its own transaction with the holder's supersede check, the row and an audit
  entry; target >= 35 %).

    python bench/issue_bench.py                 # 10 s per side
    python bench/issue_bench.py --quick         # 1 s per side, for tests

Machine-readable lines: ``RATIO issue sign=X auth=Y`` (ours per CPU-second / openssl's),
``RATIO stored bulk=X counter=Y``, and with ``--json`` one JSON object. ``--database-url``
stores into PostgreSQL instead of the home's SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

TARGET = 0.80
MODES = ("sign", "auth", "raw", "service", "bulk", "counter")
BULK_BATCH = 64  # certificates a bulk transaction stores
SERVICE_TARGETS = {"bulk": 0.60, "counter": 0.35}  # stored issuance vs openssl speed
FACTS = [  # (name, address, birth date, sex): JIS names, and names the card set cannot hold
    ("試験\u3000太郎", "東京都千代田区霞が関一丁目１番１号", date(1990, 1, 1), 1),
    ("山田\u3000花子", "神奈川県横浜市中区本町六丁目５０番地の１０", date(1985, 7, 24), 2),
    ("髙橋\u3000𠮷男", "大阪府大阪市北区中之島一丁目３番２０号　中之島マンション１０２号室", date(1962, 3, 3), 1),
    ("佐藤\u3000一郎", "北海道札幌市中央区北一条西二丁目", date(1948, 11, 30), 3),
    ("渡邉\u3000恵美子", "福岡県福岡市中央区天神一丁目８番１号", date(2001, 2, 28), 2),
]
PLACES = [("東京都", "千代田区"), ("神奈川県", "横浜市"), ("大阪府", "大阪市"), ("北海道", "札幌市"),
          ("福岡県", "福岡市")]


# --- setup (child) -------------------------------------------------------------------------------


def child_setup(workdir: str, keys: str) -> None:
    """A home with its authorities, and pre-generated card public keys (SPKI DER)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home

    wd = Path(workdir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    settings = Settings.resolve(home=wd / "home")
    initialise_home(settings, now=now - timedelta(days=1))
    spkis = []
    for _ in range(int(keys)):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        spkis.append(key.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).hex())
    (wd / "card-keys.json").write_text(json.dumps(spkis))
    print(json.dumps({"home": str(settings.home), "now": now.isoformat()}))


# --- our sides (one child) ----------------------------------------------------------------------


def stored_modes(service, keys, facts, last_day, now) -> dict:
    """The modes that store what they issue: service, bulk and counter (see the module text)."""
    import secrets

    from openjpki.pki import Kind
    from openjpki.services import audit
    from openjpki.services.authority import IssueRequest

    def service_issue(i: int) -> None:  # the whole use case: issue, then store in its transaction
        place = PLACES[i % len(PLACES)]
        service.issue(Kind.SIGN, keys[i % len(keys)], last_valid_day=last_day, now=now,
                      prefecture=place[0], municipality=place[1], facts=facts[i % len(facts)])

    def request(i: int, resident: str | None = None) -> IssueRequest:
        place = PLACES[i % len(PLACES)]
        return IssueRequest(Kind.SIGN, keys[i % len(keys)], last_day, prefecture=place[0],
                            municipality=place[1], facts=facts[i % len(facts)],
                            resident_id=resident)

    def bulk(i: int) -> int:  # loading: BULK_BATCH signed, then stored in one transaction
        service.issue_many([request(i * BULK_BATCH + j) for j in range(BULK_BATCH)], now=now)
        return BULK_BATCH

    run_id = secrets.token_hex(4)  # a new holder each time (a renewal would supersede)

    def counter(i: int) -> None:  # one counter issuance: its own transaction with the holder's
        # supersede check (R3.7), the certificate row and an audit entry, committed together
        holder = f"bench-{run_id}-{i}"
        with service.store.transaction() as s:
            rec = service.issue_many([request(i, holder)], now=now, session=s)[0]
            audit.record(s, "bench.issuance", now, subject=f"resident:{holder}",
                         serial=rec.serial, kind="sign")

    return {"service": service_issue, "bulk": bulk, "counter": counter}


def child(modes: str, workdir: str, seconds: str, now_iso: str) -> None:
    """Run the given modes (comma-separated) interleaved in batches of 8 for about ``seconds``
    each, so that they see the same machine load; print ops and the CPU and wall time of
    each mode's batches."""
    import secrets

    from cryptography.hazmat.primitives import serialization

    from openjpki.config import Settings
    from openjpki.pki import Kind, SignFacts, issue_certificate, new_serial
    from openjpki.services.authority_home import open_authorities

    wd = Path(workdir)
    now = datetime.fromisoformat(now_iso)
    service = open_authorities(Settings.resolve(home=wd / "home"))
    keys = [serialization.load_der_public_key(bytes.fromhex(h)) for h in json.loads((wd / "card-keys.json").read_text())]
    facts = [SignFacts(*f) for f in FACTS]
    last_day = (now + timedelta(days=5 * 365)).date()
    sign_ca, auth_ca = service.current(Kind.SIGN), service.current(Kind.AUTH)
    sign_signer, auth_signer = service.signer(sign_ca.id), service.signer(auth_ca.id)
    sign_options, auth_options = service.options_for(sign_ca), service.options_for(auth_ca)
    tbs = b"\x30" * 1200  # a certificate-sized message for the bare signature

    def raw(i: int) -> None:
        sign_signer.sign(tbs)

    def sign(i: int):
        place = PLACES[i % len(PLACES)]
        return issue_certificate(Kind.SIGN, issuer=sign_ca.root, signer=sign_signer, public_key=keys[i % len(keys)],
                          serial=new_serial(), not_before=now, last_valid_day=last_day,
                          subject_id=secrets.token_hex(10).upper(), prefecture=place[0],
                          municipality=place[1], facts=facts[i % len(facts)], options=sign_options)

    def auth(i: int):
        return issue_certificate(Kind.AUTH, issuer=auth_ca.root, signer=auth_signer, public_key=keys[i % len(keys)],
                          serial=new_serial(), not_before=now, last_valid_day=last_day,
                          subject_id=secrets.token_hex(10).upper(), options=auth_options)

    table = {"raw": raw, "sign": sign, "auth": auth,
             **stored_modes(service, keys, facts, last_day, now)}
    chosen = [(m, table[m]) for m in modes.split(",")]
    stats = {m: [0, 0.0, 0.0] for m, _ in chosen}
    for m, f in chosen:  # warm: caches, the key's blinding, the database's first pages
        for i in range(4):
            f(i)
    deadline = time.perf_counter() + float(seconds) * len(chosen)
    n = 0
    while time.perf_counter() < deadline:
        for m, f in chosen:
            wall0 = time.perf_counter()
            cpu0 = time.process_time()
            made = 0
            for i in range(n, n + 8):
                out = f(i)
                made += out if isinstance(out, int) else 1
            st = stats[m]
            st[0] += made
            st[1] += time.process_time() - cpu0
            st[2] += time.perf_counter() - wall0
        n += 8
    # one certificate of each kind and the roots, for checks by tools we did not write
    pem = serialization.Encoding.PEM
    for name, obj in (("sign", sign(n)), ("auth", auth(n)), ("sign-root", sign_ca.root), ("auth-root", auth_ca.root)):
        (wd / f"sample-{name}.pem").write_bytes(obj.public_bytes(pem))
    print(json.dumps({m: {"ops": st[0], "cpu": st[1], "wall": st[2]} for m, st in stats.items()}))


# --- openssl speed -----------------------------------------------------------------------------------

_R1 = re.compile(r"^\+R1:(\d+):2048:([0-9.]+)$", re.M)


def openssl_speed(seconds: int) -> dict:
    """``openssl speed -mr -seconds N rsa2048``: signs and the CPU user seconds they took."""
    wall0 = time.perf_counter()
    p = subprocess.run(["openssl", "speed", "-mr", "-seconds", str(seconds), "rsa2048"],
                       capture_output=True, text=True, timeout=seconds * 4 + 60)
    wall = time.perf_counter() - wall0
    m = _R1.search(p.stdout + p.stderr)
    if p.returncode != 0 or m is None:
        raise SystemExit(f"openssl speed failed:\n{(p.stdout + p.stderr)[-2000:]}")
    ops, cpu = int(m.group(1)), float(m.group(2))
    return {"mode": "openssl", "ops": ops, "cpu": cpu, "wall": min(wall, float(seconds))}


# --- the benchmark ---------------------------------------------------------------------------------


def me(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def child_json(argv: list[str], what: str) -> dict:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"{what} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(seconds: float, rounds: int, workdir: Path, modes: tuple[str, ...], keys: int = 16) -> dict:
    setup = child_json(me("--child-setup", str(workdir), str(keys)), "setup")
    slice_s = max(1, round(seconds / rounds))
    samples: dict[str, list[dict]] = {m: [] for m in ("openssl", *modes)}
    openssl_pairs: list[float] = []  # openssl's rate around each of our slices
    before = openssl_speed(slice_s)
    samples["openssl"].append(before)
    for r in range(rounds):
        ours = child_json(me("--child", ",".join(modes), str(workdir), str(slice_s), setup["now"]), "issuing")
        for mode in modes:
            samples[mode].append(ours[mode])
        after = openssl_speed(slice_s)
        samples["openssl"].append(after)
        openssl_pairs.append((before["ops"] / before["cpu"] + after["ops"] / after["cpu"]) / 2)
        before = after
        line = "  ".join(f"{m} {s[-1]['ops'] / s[-1]['cpu']:7.1f}" for m, s in samples.items())
        print(f"  round {r + 1}/{rounds} (per CPU-second): {line}", flush=True)
    result: dict = {"bench": "issue", "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                    "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                    "seconds_per_side": slice_s * rounds, "rounds": rounds, "sides": {}}
    openssl = samples["openssl"]
    openssl_rate = sum(o["ops"] for o in openssl) / sum(o["cpu"] for o in openssl)
    for mode, runs in samples.items():
        ops = sum(s["ops"] for s in runs)
        cpu = sum(s["cpu"] for s in runs)
        wall = sum(s["wall"] for s in runs)
        side = {"ops": ops, "per_cpu_second": round(ops / cpu, 1), "per_second": round(ops / wall, 1)}
        if mode != "openssl":
            per_round = [(s["ops"] / s["cpu"]) / o for s, o in zip(runs, openssl_pairs)]
            side["ratio"] = round(side["per_cpu_second"] / openssl_rate, 3)
            side["ratio_rounds"] = {"min": round(min(per_round), 3), "median": round(statistics.median(per_round), 3),
                                    "max": round(max(per_round), 3)}
            if mode in ("sign", "auth"):
                side["target_met"] = side["ratio"] >= TARGET
            elif mode in SERVICE_TARGETS:
                side["target"] = SERVICE_TARGETS[mode]
                side["target_met"] = side["ratio"] >= SERVICE_TARGETS[mode]
        result["sides"][mode] = side
    return result


LABELS = {"openssl": "openssl speed rsa2048 (signs)", "raw": "bare key.sign (our signer)",
          "sign": "issue_certificate SIGN (facts)", "auth": "issue_certificate AUTH",
          "service": "AuthorityService.issue SIGN + DB",
          "bulk": f"issue_many SIGN, {BULK_BATCH} a transaction",
          "counter": "counter issuance (tx + R3.7 + audit)"}


def report(result: dict) -> None:
    print(f"\nIssuing vs openssl speed rsa2048 ({result['cores']} cores, {result['date']}, "
          f"load average {result['load_average'][0]}, {result['seconds_per_side']} s per side in "
          f"{result['rounds']} rounds)")
    for mode, side in result["sides"].items():
        ratio = ""
        if "ratio" in side:
            rr = side["ratio_rounds"]
            ratio = f"  {side['ratio'] * 100:5.1f} % of openssl (rounds {rr['min'] * 100:.0f}-{rr['max'] * 100:.0f} %)"
            if "target_met" in side:
                target = side.get("target", TARGET)
                ratio += f"  target >= {target * 100:.0f} %: {'met' if side['target_met'] else 'MISSED'}"
        print(f"  {LABELS[mode]:34s} {side['per_cpu_second']:8.1f} /CPU-s {side['per_second']:8.1f} /s{ratio}")
    s = result["sides"]
    print(f"RATIO issue sign={s['sign']['ratio']} auth={s['auth']['ratio']}")
    if "bulk" in s:
        print(f"RATIO stored bulk={s['bulk']['ratio']} counter={s['counter']['ratio']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per side, in total (default 10)")
    parser.add_argument("--rounds", type=int, default=None, help="alternations (default seconds/2)")
    parser.add_argument("--quick", action="store_true", help="1 s per side, one round")
    parser.add_argument("--no-service", action="store_true", help="skip the stored paths "
                        "(service, bulk, counter)")
    parser.add_argument("--database-url", default=None, help="store the certificates there "
                        "(default SQLite in the bench's home)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child-setup", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_setup:
        child_setup(*args.child_setup)
        return 0
    if args.child:
        child(*args.child)
        return 0
    if args.database_url:  # the children open the store from the environment (Settings)
        os.environ["OPENJPKI_DATABASE_URL"] = args.database_url
    seconds = 1.0 if args.quick else args.seconds
    rounds = args.rounds or (1 if args.quick else max(1, int(seconds // 2)))
    modes = ("raw", "sign", "auth") + (() if args.no_service else ("service", "bulk", "counter"))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="openjpki-issue-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = run(seconds, rounds, workdir, modes, keys=4 if args.quick else 16)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A bounded load test of ``openjpki serve`` over loopback: OCSP GETs on ``--connections``
kept-alive connections for ``--duration`` seconds while ``--revocations`` revocations and
``--issuances`` new cards (a resident registered, then 新規発行) run through the JSON API.

Setup (not timed): a sandbox home (SQLite, or ``--database-url``) with ``--revocations / 2``
holders whose cards hold both certificates, the sandbox clock set to a weekday 10:00 Japan
time (office hours, R5.8), one RFC 5019 GET path per certificate. Then ``openjpki serve``
starts in a child process and, at once:

* ``--connections`` threads each loop GETs over every path on their own connection, checking
  every answer (HTTP 200, a successful, parseable OCSP response);
* one thread sends the revocations (SIGN or AUTH of a holder, evenly over the run) and after
  each 200 asks OCSP for that certificate until it says revoked — the delay from the API's
  answer to the sending of the first request answered "revoked" is the revocation's
  visibility;
* one thread registers residents and issues their cards (evenly over the run).

At the end ``openjpki audit verify`` checks the chain. The run passes with 0 errors, every
revocation visible within ``--sync-interval`` (the server's: 0.5 s) and the audit chain
clean; it prints the figures and, with ``--json``, one JSON object (exit 1 when it fails).

    python bench/load.py                    # 60 s, 16 connections, 100 revocations, 50 cards
    python bench/load.py --duration 10 --revocations 20 --issuances 6    # quick
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}
JST = timezone(timedelta(hours=9))


@dataclass
class Figures:
    ocsp_requests: int = 0
    ocsp_errors: list[str] = field(default_factory=list)
    ocsp_latencies: list[float] = field(default_factory=list)
    api_errors: list[str] = field(default_factory=list)
    revoked: int = 0
    visibility: list[float] = field(default_factory=list)
    issued: int = 0
    first_try: int = 0  # revocations shown by the first OCSP request sent after the answer
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _weekday_ten(now: datetime) -> datetime:
    day = now.astimezone(JST).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=JST)


def prepare(home: Path, holders: int, database_url: str | None) -> tuple[list, object]:
    """The home, ``holders`` holders, the sandbox clock at office hours; the certificates
    as (serial, kind, resident id, GET path)."""
    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home, open_authorities
    from openjpki.services.authority_testing import seed_ca_keys
    from openjpki.services.counter import (
        Completed, CounterContext, PinEntry, ResidentInput, add_resident, issue_new_card,
    )
    from openjpki.services.sandbox_clock import set_clock

    settings = Settings.resolve(home, database_url)
    seed_ca_keys(settings.keys_dir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    real = datetime.now(timezone.utc)
    initialise_home(settings, now=real - timedelta(days=30), crl_url_base=base,
                    ocsp_url=base + "/ocsp")
    ctx = replace(CounterContext.from_settings(settings), calendar=None)
    certs = []
    try:
        for i in range(holders):
            rid = add_resident(ctx, ResidentInput(
                name=f"負荷　{i}", address="埼玉県川口市青木二丁目1番1号",
                birth_date=date(1980, 5, 15), sex="female"), real)["id"]
            done = issue_new_card(ctx, rid, PinEntry(**PINS), now=real)
            assert isinstance(done, Completed), done
            for c in done.issued:
                certs.append((c.serial, c.kind, rid))
        set_clock(ctx.store, _weekday_ten(real), real=datetime.now(timezone.utc))
    finally:
        ctx.store.dispose()
    service = open_authorities(settings)
    try:
        out = []
        for serial, kind, rid in certs:
            rec = service.get(serial)
            der = ocsp.OCSPRequestBuilder().add_certificate(
                rec.certificate, service.root(kind), hashes.SHA1()).build().public_bytes(
                serialization.Encoding.DER)
            path = "/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")
            out.append((serial, kind, rid, path))
    finally:
        service.store.dispose()
    return out, (settings, port)


def _ocsp_status(c: httpx.Client, path: str, figures: Figures) -> str | None:
    t = time.perf_counter()
    try:
        r = c.get(path)
        took = time.perf_counter() - t
        if r.status_code != 200:
            raise ValueError(f"HTTP {r.status_code}")
        resp = ocsp.load_der_ocsp_response(r.content)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise ValueError(f"OCSP {resp.response_status.name}")
        status = resp.certificate_status.name.lower()
    except Exception as e:  # noqa: BLE001 — every failure is a counted error
        with figures.lock:
            figures.ocsp_errors.append(f"{path[:40]}: {type(e).__name__}: {e}")
        return None
    with figures.lock:
        figures.ocsp_requests += 1
        figures.ocsp_latencies.append(took)
    return status


def _ocsp_loop(url: str, paths: list[str], stop: threading.Event, figures: Figures,
               offset: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        for path in itertools.islice(itertools.cycle(paths), offset, None):
            if stop.is_set():
                return
            _ocsp_status(c, path, figures)


def _paced(n: int, duration: float, start: float):
    """Moments spread evenly over the run."""
    for i in range(n):
        wait = start + duration * (i + 0.5) / max(n, 1) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield i


def _revocations(url: str, certs: list, n: int, duration: float, start: float,
                 figures: Figures, deadline: float) -> None:
    with httpx.Client(base_url=url, timeout=60) as api, \
            httpx.Client(base_url=url, timeout=30) as check:
        for i in _paced(n, duration, start):
            serial, kind, rid, path = certs[i]
            r = api.post("/api/counter/revocation", json={"resident_id": rid, "kinds": [kind]})
            answered = time.monotonic()
            if r.status_code != 200:
                figures.api_errors.append(f"revocation {rid}/{kind}: {r.status_code} "
                                          f"{r.text[:200]}")
                continue
            # Visible at the moment the first request that answers "revoked" was sent (its
            # own round trip under load is not the server's delay).
            for attempt in itertools.count(1):
                sent = time.monotonic()
                if _ocsp_status(check, path, figures) == "revoked":
                    figures.visibility.append(max(0.0, sent - answered))
                    figures.revoked += 1
                    figures.first_try += attempt == 1
                    break
                if sent - answered > deadline:
                    figures.api_errors.append(f"revocation of {serial} not visible by OCSP")
                    break
                time.sleep(0.01)


def _issuances(url: str, n: int, duration: float, start: float, figures: Figures) -> None:
    with httpx.Client(base_url=url, timeout=120) as api:
        for i in _paced(n, duration, start):
            r = api.post("/api/residents", json={
                "name": f"新規　{i}", "address": "東京都千代田区千代田1番1号",
                "birth_date": "1985-01-20", "sex": "male"})
            if r.status_code != 201:
                figures.api_errors.append(f"resident: {r.status_code} {r.text[:200]}")
                continue
            r = api.post("/api/counter/issuance", json={"resident_id": r.json()["id"],
                                                        "pins": PINS})
            if r.status_code != 200:
                figures.api_errors.append(f"issuance: {r.status_code} {r.text[:200]}")
                continue
            figures.issued += 1


def _serve(home: Path, port: int, env: dict) -> subprocess.Popen:
    log = open(home.parent / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "serve",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**env, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("serve did not start: " + (home.parent / "serve.log").read_text()[-2000:])


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="openjpki-load-"))
    home = work / "home"
    env = dict(os.environ)
    from openjpki.services.authority_setup import PASSPHRASE_ENV
    from openjpki.services.authority_testing import PASSPHRASE

    env[PASSPHRASE_ENV] = os.environ[PASSPHRASE_ENV] = PASSPHRASE.decode()
    if args.database_url:
        env["OPENJPKI_DATABASE_URL"] = args.database_url
        env["OPENJPKI_SERVICE_MODE"] = os.environ["OPENJPKI_SERVICE_MODE"] = "sandbox"
    certs, (settings, port) = prepare(home, (args.revocations + 1) // 2, args.database_url)
    url = f"http://127.0.0.1:{port}"
    proc = _serve(home, port, env)
    figures = Figures()
    stop = threading.Event()
    try:
        load = os.getloadavg()[0]
        start = time.monotonic()
        paths = [c[3] for c in certs]
        readers = [threading.Thread(target=_ocsp_loop, args=(url, paths, stop, figures, i * 7))
                   for i in range(args.connections)]
        workers = [threading.Thread(target=_revocations, args=(
            url, certs, args.revocations, args.duration, start, figures, args.deadline)),
            threading.Thread(target=_issuances, args=(url, args.issuances, args.duration,
                                                      start, figures))]
        for t in readers + workers:
            t.start()
        for t in workers:
            t.join()
        rest = start + args.duration - time.monotonic()
        if rest > 0:
            time.sleep(rest)
        stop.set()
        for t in readers:
            t.join(60)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    verify = subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), "audit",
                             "verify", "--json"], capture_output=True, text=True, env=env,
                            timeout=300)
    out = _report(args, figures, elapsed, load, verify)
    if out["ok"] and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        out["home"] = str(home)  # kept for a look at what failed (serve.log beside it)
    return out


def _report(args: argparse.Namespace, figures: Figures, elapsed: float, load: float,
            verify: subprocess.CompletedProcess) -> dict:
    lat = sorted(figures.ocsp_latencies) or [0.0]
    vis = sorted(figures.visibility) or [0.0]
    out = {
        "duration_s": round(elapsed, 1), "connections": args.connections,
        "load_average_1m": round(load, 2),
        "ocsp_requests": figures.ocsp_requests,
        "ocsp_per_second": round(figures.ocsp_requests / elapsed, 1),
        "ocsp_p50_ms": round(statistics.median(lat) * 1000, 2),
        "ocsp_p99_ms": round(lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0] * 1000, 2),
        "ocsp_errors": len(figures.ocsp_errors), "api_errors": len(figures.api_errors),
        "revocations": figures.revoked, "revocations_asked": args.revocations,
        "visibility_max_ms": round(vis[-1] * 1000, 1),
        "visibility_p50_ms": round(statistics.median(vis) * 1000, 1),
        "visible_on_first_request": figures.first_try,
        "sync_interval_ms": args.sync_interval * 1000,
        "issuances": figures.issued, "issuances_asked": args.issuances,
        "audit_verify": verify.returncode == 0, "errors": (figures.ocsp_errors
                                                           + figures.api_errors)[:10],
    }
    out["ok"] = (out["ocsp_errors"] == 0 and out["api_errors"] == 0
                 and figures.revoked == args.revocations and figures.issued == args.issuances
                 and vis[-1] <= args.sync_interval and out["audit_verify"])
    if not verify.returncode == 0:
        out["errors"].append("audit verify: " + (verify.stdout + verify.stderr)[-300:])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--revocations", type=int, default=100)
    p.add_argument("--issuances", type=int, default=50)
    p.add_argument("--sync-interval", type=float, default=0.5,
                   help="The server's sync interval: the longest a revocation may take to "
                   "show in OCSP.")
    p.add_argument("--deadline", type=float, default=10.0,
                   help="How long to wait for a revocation to show before counting an error.")
    p.add_argument("--database-url", default=None)
    p.add_argument("--keep", action="store_true", help="Keep the home made for the run.")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = run(args)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

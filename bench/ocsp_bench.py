"""The OCSP responder, side by side with ``openssl ocsp`` serving the same certificates.

Setup (a child process, not timed; ``bench/ocsp_population.py``): a home whose AUTH
authority holds ``--certificates N`` certificates (bulk-inserted rows), 5 % of them revoked
with various reasons; an ``index.txt`` with the same serials, dates and reasons for openssl;
and two request mixes over the population (RFC 5019 GET paths, ``/ocsp/<url-encoded base64
OCSPRequest>``, SHA-1 CertID, no nonce): ``uniform`` (each certificate once, shuffled) and
``zipf`` (Zipf-distributed draws). Then the pre-production, timed: ``openjpki ocsp produce
--json`` signs every certificate's response, beside ``openssl speed rsa2048`` run just
before and after (signatures per CPU second on both sides).

Then, per mix, for 1 and for ``--workers`` processes on each side, each server fresh (cold):
* ours: ``openjpki serve`` and ``openjpki serve --workers N``, as users run it (uvicorn with
  the OCSP front of ``openjpki.web.ocsp_front``): the pre-produced responses found in the
  store by one lookup each, kept in a bounded memory cache;
* openssl: ``openssl ocsp -index index.txt -port P -rsigner root.pem -rkey <CA key>
  -CA root.pem -ndays 1``, and the same with ``-multi N``.  It signs every response.
Each server is started on a free loopback port and loaded with Debian's ``wrk`` (one thread,
``--connections``, a Lua script cycling through the mix's paths) for ``--duration`` seconds.
Two client behaviours: ``close`` (every request on its own connection, ``Connection:
close``: how ``openssl ocsp`` works as a client, and the only way its single-connection
server serves several clients) and ``keep-alive`` (connections reused; ``openssl ocsp`` then
serves one connection at a time per process while the others wait).  ``openssl ocsp`` takes
no listen address: it listens on every interface during its run; the load is sent over
loopback only.  The resident memory of every server process is read at the end of its run.

Before loading, one good and one revoked certificate are asked over GET from each server and
the answers checked with ``openssl ocsp -respin`` (signature and status).

    python bench/ocsp_bench.py --certificates 1000000 --mix zipf --workdir W   # then --reuse
    python bench/ocsp_bench.py                 # 500 certificates, both mixes, 1 and 2 workers, both behaviours
    python bench/ocsp_bench.py --quick         # 10 certificates, 1 s, 1 worker, keep-alive: for tests

Machine-readable: ``RATIO ocsp certificates=N mix=M workers=W connection=C rps=X p99=Y`` per
configuration (requests/s ours / openssl; p99 latency ours / openssl), and with ``--json``
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ocsp_population  # noqa: E402
from measure import run_measured  # noqa: E402

TARGET = 5.0
P99_TARGET_MS = 5.0
LUA = """-- cycle through the request paths of $OCSP_PATHS, one per line
-- No test connection before the run (wrk's default): openssl ocsp (3.0) spins on a
-- connection that closes before sending a request, and would serve nothing after it.
wrk.resolve = function(host, service) wrk.addrs = wrk.lookup(host, service) end
local paths = {}
for line in io.lines(os.getenv("OCSP_PATHS")) do paths[#paths + 1] = line end
local i = math.random(#paths)
local headers = {}
if os.getenv("OCSP_CLOSE") == "1" then headers["Connection"] = "close" end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
"""


# --- setup (child) -----------------------------------------------------------------------------


def child_setup(workdir: str, certs: str) -> None:
    print(json.dumps(ocsp_population.populate(Path(workdir), int(certs))))


def child_produce_rate(home: str, jobs: str) -> None:
    """Pre-produce every due response with the command users run, timed from start to exit."""
    argv = [sys.executable, "-m", "openjpki", "--home", home, "ocsp", "produce", "--json", "--jobs", jobs]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENJPKI_CA_PASSPHRASE", "OPENJPKI_DATABASE_URL")}
    r = run_measured("produce", argv, env=env)
    if r.returncode != 0:
        raise SystemExit(f"ocsp produce failed:\n{r.stderr[-3000:]}")
    report = json.loads(r.stdout)
    report.update(wall_seconds=round(r.seconds, 2), peak_rss_mb=round(r.peak_rss_mb, 1))
    print(json.dumps(report))


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict, cwd: Path | None = None, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "wb") if log else subprocess.DEVNULL
    # Its own process group (not a new session: ``openssl ocsp -multi`` makes itself a group
    # leader and exits when it cannot), so that stop() ends it and its workers together.
    return subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, process_group=0)


def stop(proc: subprocess.Popen) -> None:
    """End the server we started and its workers (the process group of its pid)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def fetch(port: int, path: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}")
        return r.read()


def wait_ready(proc: subprocess.Popen, port: int, path: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            fetch(port, path, timeout=5)
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} not ready after {seconds} s")


def check_response(der: bytes, out: Path, setup: dict, status: str) -> dict:
    """``openssl ocsp -respin``: the response verifies against the root and says ``status``."""
    out.write_bytes(der)
    serial = setup["known"][status]["serial"]
    p = subprocess.run(["openssl", "ocsp", "-respin", str(out), "-issuer", setup["root"], "-CAfile", setup["root"],
                        "-serial", serial, "-no_nonce"], capture_output=True, text=True, timeout=60)
    text = p.stdout + p.stderr
    return {"verified": "Response verify OK" in text, "status": status,
            "status_ok": re.search(rf"^{serial}: {status}$", text, re.M | re.I) is not None, "file": str(out)}


# --- wrk ---------------------------------------------------------------------------------------

_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_PCT = re.compile(r"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(port: int, paths: Path, lua: Path, seconds: float, connections: int, close: bool) -> dict:
    env = dict(os.environ, OCSP_PATHS=str(paths), OCSP_CLOSE="1" if close else "0")
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(lua),
            f"http://127.0.0.1:{port}"]
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 120)
    text = p.stdout + p.stderr
    m = _RPS.search(text)
    if p.returncode != 0 or m is None:
        raise SystemExit(f"wrk failed:\n{text[-2000:]}")
    pct = {f"p{k}_ms": round(float(v) * _UNIT[u], 3) for k, v, u in _PCT.findall(text)}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {"rps": float(m.group(1)), **pct, "requests": int(total.group(1)) if total else None,
            "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups())))
            if errors else None, "non_2xx": int(non2xx.group(1)) if non2xx else 0}


# --- the benchmark -------------------------------------------------------------------------------


def me(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def child_json(argv: list[str], what: str) -> dict:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=6 * 3600)
    if p.returncode != 0:
        raise SystemExit(f"{what} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def server_argv(side: str, workers: int, port: int, setup: dict) -> tuple[list[str], Path | None]:
    if side == "ours":
        argv = [sys.executable, "-m", "openjpki", "--home", setup["home"], "serve", "--host", "127.0.0.1",
                "--port", str(port)]
        return argv + (["--workers", str(workers)] if workers > 1 else []), None
    argv = ["openssl", "ocsp", "-index", setup["index"], "-port", str(port), "-rsigner", setup["root"],
            "-rkey", setup["key"], "-passin", setup["passin"], "-CA", setup["root"], "-ndays", "1"]
    if workers > 1:
        argv += ["-multi", str(workers)]
    return argv, Path(setup["root"]).parent


def measure(side: str, workers: int, setup: dict, workdir: Path, *, mix: str, duration: float, warmup: float,
            connections: int, close: bool) -> dict:
    """One server, fresh (cold: nothing in its memory), checked and loaded. Ours answers from
    the pre-produced responses of the store; openssl signs every answer. ``warmup`` > 0 runs
    load before measuring ours (openssl keeps nothing between requests: no warm-up)."""
    port = free_port()
    env = dict(os.environ, OPENJPKI_HOME=setup["home"])
    env.pop("OPENJPKI_CA_PASSPHRASE", None)
    env.pop("OPENJPKI_DATABASE_URL", None)
    argv, cwd = server_argv(side, workers, port, setup)
    log = workdir / f"server-{side}-{workers}-{'close' if close else 'keepalive'}.log"
    proc = start(argv, env, cwd, log)
    try:
        wait_ready(proc, port, setup["known"]["good"][side])
        checks = [check_response(fetch(port, setup["known"][status][side]),
                                 workdir / f"{side}-{workers}-{status}.der", setup, status)
                  for status in ("good", "revoked") if status in setup["known"]]
        paths = workdir / f"paths-{mix}-{side}.txt"
        lua = workdir / "rotate.lua"
        if warmup > 0 and side == "ours":
            wrk(port, paths, lua, warmup, connections, close)
        cpu = ocsp_population.cpu_seconds(proc.pid)
        result = wrk(port, paths, lua, duration, connections, close)
        cpu = ocsp_population.cpu_seconds(proc.pid) - cpu
        result["rss_mb"] = ocsp_population.rss_mb(proc.pid)
    finally:
        stop(proc)
    if result["requests"] and cpu > 0:
        result["server_cpu_us_per_request"] = round(cpu / result["requests"] * 1e6)
    result["checks"] = checks
    result["command"] = " ".join(argv)
    print(f"  {side:8s} x{workers} {mix:7s} {'close     ' if close else 'keep-alive'}: {result['rps']:9.1f} req/s  "
          f"p50 {result.get('p50_ms')} ms  p99 {result.get('p99_ms')} ms  non-2xx {result['non_2xx']}  "
          f"socket errors {result['socket_errors']}  server CPU {result.get('server_cpu_us_per_request')} µs/request"
          f"  RSS {result['rss_mb']} MB", flush=True)
    return result


def prepare(certs: int, workdir: Path, reuse: bool, jobs: int) -> tuple[dict, dict]:
    """The population (made, or reused from ``workdir``) and its pre-production: the
    response of every certificate signed by ``openjpki ocsp produce`` (timed), beside
    ``openssl speed rsa2048`` measured just before and after."""
    saved = workdir / "setup.json"
    if reuse and saved.exists():
        setup = json.loads(saved.read_text())
        if setup["certs"] != certs:
            raise SystemExit(f"{saved} holds {setup['certs']:,} certificates, not {certs:,}")
        print(f"setup: reusing {saved}", flush=True)
    else:
        started = time.perf_counter()
        setup = child_json(me("--child-setup", str(workdir), str(certs)), "setup")
        setup["setup_seconds"] = round(time.perf_counter() - started, 1)
        saved.write_text(json.dumps(setup))
    (workdir / "rotate.lua").write_text(LUA)
    print(f"setup: {setup['certs']:,} AUTH certificates ({setup['revoked']:,} revoked) in the store and index.txt",
          flush=True)
    before = ocsp_population.openssl_speed()
    produced = child_json(me("--child-produce", setup["home"], str(jobs)), "pre-production")
    after = ocsp_population.openssl_speed()
    speed = round((before["per_cpu_second"] + after["per_cpu_second"]) / 2, 1)
    production = {"report": produced, "openssl_speed_per_cpu_second": speed, "openssl_speed_runs": [before, after]}
    if produced["signed"]:
        production["ratio_to_openssl_speed"] = round(produced["signed_per_cpu_second"] / speed, 3)
        (workdir / "production.json").write_text(json.dumps(production))
    elif (workdir / "production.json").exists():
        production["earlier"] = json.loads((workdir / "production.json").read_text())
    print(f"pre-production: {produced['signed']:,} responses in {produced['wall_seconds']} s "
          f"({produced['signed_per_cpu_second']} per CPU second, jobs {jobs}; openssl speed rsa2048 {speed} "
          f"per CPU second: {production.get('ratio_to_openssl_speed')}); due after: {produced['due']}", flush=True)
    return setup, production


def run(certs: int, workers: int, duration: float, warmup: float, connections: int, workdir: Path,
        modes: list[bool], mixes: list[str], reuse: bool = False, jobs: int = 1) -> dict:
    load_before = [round(x, 2) for x in os.getloadavg()]
    setup, production = prepare(certs, workdir, reuse, jobs)
    result: dict = {"bench": "ocsp", "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                    "cores": os.cpu_count(), "certs": certs, "duration_s": duration, "warmup_s": warmup,
                    "connections": connections, "configs": [], "production": production,
                    "mixes": {m: json.loads((workdir / f"mix-{m}.json").read_text()) for m in mixes},
                    "load_average_before": load_before}
    for mix in mixes:
        for close in modes:
            for n in sorted({1, workers}):
                kw = dict(mix=mix, duration=duration, warmup=warmup, connections=connections, close=close)
                ours = measure("ours", n, setup, workdir, **kw)
                theirs = measure("openssl", n, setup, workdir, **kw)
                config = {"mix": mix, "workers": n, "connection": "close" if close else "keep-alive", "ours": ours,
                          "openssl": theirs,
                          "rps_ratio": round(ours["rps"] / theirs["rps"], 2) if theirs["rps"] else None,
                          "load_average": [round(x, 2) for x in os.getloadavg()]}
                if ours.get("p99_ms") and theirs.get("p99_ms"):
                    config["p99_ratio"] = round(ours["p99_ms"] / theirs["p99_ms"], 3)
                config["target_met"] = config["rps_ratio"] is not None and config["rps_ratio"] >= TARGET \
                    and (ours.get("p99_ms") or 0) <= P99_TARGET_MS
                result["configs"].append(config)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return result


def report(result: dict) -> None:
    p = result["production"]
    print(f"\nOCSP over HTTP GET (RFC 5019), {result['certs']:,} certificates, wrk 1 thread "
          f"{result['connections']} connections, {result['duration_s']:g} s, cold servers "
          f"({result['cores']} cores, {result['date']}, load average {result['load_average_before'][0]} before, "
          f"{result['load_average'][0]} after)")
    r = p["report"]
    print(f"  pre-production: {r['signed']:,} signed, {r['wall_seconds']} s wall, {r['signed_per_cpu_second']} per "
          f"CPU second against openssl speed rsa2048 {p['openssl_speed_per_cpu_second']}: "
          f"{p.get('ratio_to_openssl_speed')} (target >= 0.8)")
    for c in result["configs"]:
        for side in ("ours", "openssl"):
            r = c[side]
            ok = all(ch["verified"] and ch["status_ok"] for ch in r["checks"])
            print(f"  {side:8s} x{c['workers']} {c['mix']:7s} {c['connection']:10s} {r['rps']:9.1f} req/s  "
                  f"p50 {r.get('p50_ms')} ms  p99 {r.get('p99_ms')} ms  server CPU "
                  f"{r.get('server_cpu_us_per_request')} µs/request  RSS {r.get('rss_mb')} MB  "
                  f"answers {'verified' if ok else 'NOT VERIFIED'}")
        print(f"    -> ours {c['rps_ratio']}x openssl's requests/s (target >= {TARGET:g}x and p99 <= "
              f"{P99_TARGET_MS:g} ms: {'met' if c['target_met'] else 'MISSED'}), p99 ours/openssl {c.get('p99_ratio')}"
              f", load average {c['load_average'][0]}")
    for c in result["configs"]:
        print(f"RATIO ocsp certificates={result['certs']} mix={c['mix']} workers={c['workers']} "
              f"connection={c['connection']} rps={c['rps_ratio']} p99={c.get('p99_ratio')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", "--certs", dest="certs", type=int, default=None,
                        help="certificates in the store and the index (default 500; quick 10)")
    parser.add_argument("--mix", choices=("uniform", "zipf", "both"), default=None,
                        help="the request mix over the population (default both; quick: uniform)")
    parser.add_argument("--workers", dest="workers_given", type=int, default=None,
                        help="processes per side in the second configuration (default 2; quick: only 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (default 10; quick 1)")
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="seconds of load before measuring ours (default 0: cold servers)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--connection", choices=("close", "keep-alive", "both"), default=None,
                        help="a new connection per request (Connection: close), kept-alive ones, or both "
                        "(default both; quick: keep-alive)")
    parser.add_argument("--jobs", type=int, default=1, help="producer processes for the pre-production")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="measure on the population already in --workdir")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child-setup", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-produce", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_setup:
        child_setup(*args.child_setup)
        return 0
    if args.child_produce:
        child_produce_rate(*args.child_produce)
        return 0
    certs = args.certs or (10 if args.quick else 500)
    duration = args.duration or (1.0 if args.quick else 10.0)
    workers = 1 if args.quick and args.workers_given is None else (args.workers_given or 2)
    connection = args.connection or ("keep-alive" if args.quick else "both")
    mix = args.mix or ("uniform" if args.quick else "both")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="openjpki-ocsp-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        modes = {"close": [True], "keep-alive": [False], "both": [True, False]}[connection]
        mixes = ["uniform", "zipf"] if mix == "both" else [mix]
        result = run(certs, workers, duration, args.warmup, args.connections, workdir, modes, mixes,
                     reuse=args.reuse, jobs=args.jobs)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The OCSP responder, side by side with ``openssl ocsp`` serving the same certificates.

Setup (a child process, not timed): a home whose AUTH authority issues ``--certs``
certificates through the authority service, a tenth of them revoked with various reasons;
an ``index.txt`` with the same serials, dates and reasons for openssl; and one RFC 5019 GET
path per certificate (``/ocsp/<url-encoded base64 OCSPRequest>``: SHA-1 CertID, no nonce,
built with cryptography).

Then, for 1 and for ``--workers`` processes on each side:
* ours: ``openjpki serve`` and ``openjpki serve --workers N``, as users run it (uvicorn with
  the OCSP front of ``openjpki.web.ocsp_front``: cached answers written on the connection,
  every other request handed to uvicorn and the app);
* openssl: ``openssl ocsp -index index.txt -port P -rsigner root.pem -rkey <CA key>
  -CA root.pem -ndays 1``, and the same with ``-multi N``.  It signs every response
  afresh; ours serves signed responses from memory until they are due for renewal.
Each server is started on a free loopback port and loaded with Debian's ``wrk`` (one thread,
``--connections``, a Lua script cycling through the request paths) for ``--duration``
seconds; ours after a ``--warmup`` run that fills its response cache (openssl keeps nothing
between requests: it gets a fresh process instead, see ``measure``).  Two client behaviours:
``close`` (every request on its own connection, ``Connection: close``: how ``openssl ocsp``
works as a client, and the only way its single-connection server serves several clients)
and ``keep-alive`` (connections reused; ``openssl ocsp`` then serves one connection at a
time per process while the others wait).  ``openssl ocsp`` takes no listen address: it
listens on every interface during its run; the load is sent over loopback only.

Before loading, one good and one revoked certificate are asked over GET from each server and
the answers checked with ``openssl ocsp -respin`` (signature and status).

    python bench/ocsp_bench.py                 # 10 s per run, 1 and 2 workers, both behaviours
    python bench/ocsp_bench.py --quick         # 1 s, 1 worker, keep-alive: for tests

Machine-readable: ``RATIO ocsp workers=N rps=X p99=Y`` per configuration (requests/s ours /
openssl; p99 latency ours / openssl), and with ``--json`` one JSON object.
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

TARGET = 5.0
OPENSSL_REASONS = {"keyCompromise": "keyCompromise", "affiliationChanged": "affiliationChanged",
                   "superseded": "superseded", "cessationOfOperation": "cessationOfOperation"}
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
    import base64
    import urllib.parse

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509 import ocsp

    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home, open_authorities

    wd = Path(workdir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    settings = Settings.resolve(home=wd / "home")
    initialise_home(settings, now=now - timedelta(days=30))
    service = open_authorities(settings)
    root = service.root("auth")
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() for _ in range(4)]
    reasons = list(OPENSSL_REASONS)
    index_lines, paths_ours, paths_openssl, known = [], [], [], {}
    for i in range(int(certs)):
        record = service.issue("auth", keys[i % len(keys)], now=now - timedelta(days=10),
                               last_valid_day=(now + timedelta(days=5 * 365)).date())
        cert = record.certificate
        status = "good"
        if i % 10 == 9:
            reason = reasons[(i // 10) % len(reasons)]
            record = service.revoke(record.serial, reason, at=now - timedelta(days=1, minutes=i))
            status = "revoked"
        expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
        subject = f"/C=JP/CN={record.subject_id}"
        serial = f"{cert.serial_number:X}"
        serial = serial if len(serial) % 2 == 0 else "0" + serial
        if status == "good":
            index_lines.append(f"V\t{expiry}\t\t{serial}\tunknown\t{subject}\n")
        else:
            at = record.revoked_at.strftime("%y%m%d%H%M%SZ")
            index_lines.append(f"R\t{expiry}\t{at},{OPENSSL_REASONS[record.reason]}\t{serial}\tunknown\t{subject}\n")
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, root, hashes.SHA1()).build()
        encoded = urllib.parse.quote(base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode(),
                                     safe="")
        paths_ours.append(f"/ocsp/{encoded}\n")
        paths_openssl.append(f"/{encoded}\n")
        if status not in known:
            known[status] = {"serial": f"0x{cert.serial_number:x}", "ours": paths_ours[-1].strip(),
                             "openssl": paths_openssl[-1].strip()}
    service.store.dispose()
    osl = wd / "openssl"
    osl.mkdir(parents=True, exist_ok=True)
    (osl / "index.txt").write_text("".join(index_lines))
    (osl / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (wd / "paths-ours.txt").write_text("".join(paths_ours))
    (wd / "paths-openssl.txt").write_text("".join(paths_openssl))
    (wd / "rotate.lua").write_text(LUA)
    print(json.dumps({"home": str(settings.home), "root": str(osl / "root.pem"), "index": str(osl / "index.txt"),
                      "key": str(settings.keys_dir / "auth-1.key"),
                      "passin": f"file:{settings.keys_dir / 'passphrase'}", "known": known,
                      "certs": int(certs), "revoked": sum(1 for line in index_lines if line[0] == "R")}))


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
    p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
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


def measure(side: str, workers: int, setup: dict, workdir: Path, *, duration: float, warmup: float,
            connections: int, close: bool) -> dict:
    """One server, checked, warmed (ours: its response cache) and loaded.  openssl gets a
    fresh server for the measured run and no warm-up: it keeps nothing between requests,
    and after a run it may be stuck on a connection wrk closed (see LUA)."""
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
        paths = workdir / f"paths-{side}.txt"
        lua = workdir / "rotate.lua"
        if warmup > 0 and side == "ours":
            wrk(port, paths, lua, warmup, connections, close)
        cpu = cpu_seconds(proc.pid)
        result = wrk(port, paths, lua, duration, connections, close)
        cpu = cpu_seconds(proc.pid) - cpu
    finally:
        stop(proc)
    if result["requests"] and cpu > 0:
        result["server_cpu_us_per_request"] = round(cpu / result["requests"] * 1e6)
    result["checks"] = checks
    result["command"] = " ".join(argv)
    print(f"  {side:8s} x{workers} {'close     ' if close else 'keep-alive'}: {result['rps']:9.1f} req/s  "
          f"p50 {result.get('p50_ms')} ms  p99 {result.get('p99_ms')} ms  non-2xx {result['non_2xx']}  "
          f"socket errors {result['socket_errors']}  server CPU {result.get('server_cpu_us_per_request')} µs/request",
          flush=True)
    return result


def run(certs: int, workers: int, duration: float, warmup: float, connections: int, workdir: Path,
        modes: list[bool]) -> dict:
    setup = child_json(me("--child-setup", str(workdir), str(certs)), "setup")
    print(f"setup: {setup['certs']} AUTH certificates ({setup['revoked']} revoked) in the store and index.txt",
          flush=True)
    result: dict = {"bench": "ocsp", "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                    "cores": os.cpu_count(), "certs": certs, "duration_s": duration, "warmup_s": warmup,
                    "connections": connections, "configs": [],
                    "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    for close in modes:
        for n in sorted({1, workers}):
            kw = dict(duration=duration, warmup=warmup, connections=connections, close=close)
            ours = measure("ours", n, setup, workdir, **kw)
            theirs = measure("openssl", n, setup, workdir, **kw)
            config = {"workers": n, "connection": "close" if close else "keep-alive", "ours": ours,
                      "openssl": theirs, "rps_ratio": round(ours["rps"] / theirs["rps"], 2) if theirs["rps"] else None}
            if ours.get("p99_ms") and theirs.get("p99_ms"):
                config["p99_ratio"] = round(ours["p99_ms"] / theirs["p99_ms"], 3)
            config["target_met"] = config["rps_ratio"] is not None and config["rps_ratio"] >= TARGET
            result["configs"].append(config)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return result


def report(result: dict) -> None:
    print(f"\nOCSP over HTTP GET (RFC 5019), {result['certs']} certificates, wrk 1 thread "
          f"{result['connections']} connections, {result['duration_s']:g} s after {result['warmup_s']:g} s warm-up "
          f"({result['cores']} cores, {result['date']}, load average {result['load_average_before'][0]} before, "
          f"{result['load_average'][0]} after)")
    for c in result["configs"]:
        for side in ("ours", "openssl"):
            r = c[side]
            ok = all(ch["verified"] and ch["status_ok"] for ch in r["checks"])
            print(f"  {side:8s} x{c['workers']} {c['connection']:10s} {r['rps']:9.1f} req/s  p50 {r.get('p50_ms')} ms  "
                  f"p99 {r.get('p99_ms')} ms  server CPU {r.get('server_cpu_us_per_request')} µs/request  "
                  f"answers {'verified' if ok else 'NOT VERIFIED'}")
        print(f"    -> ours {c['rps_ratio']}x openssl's requests/s (target >= {TARGET:g}x: "
              f"{'met' if c['target_met'] else 'MISSED'}), p99 ours/openssl {c.get('p99_ratio')}")
    for c in result["configs"]:
        print(f"RATIO ocsp workers={c['workers']} connection={c['connection']} rps={c['rps_ratio']} "
              f"p99={c.get('p99_ratio')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certs", type=int, default=None, help="certificates (default 500; quick 20)")
    parser.add_argument("--workers", dest="workers_given", type=int, default=None,
                        help="processes per side in the second configuration (default 2; quick: only 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (default 10; quick 2)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds of load before measuring ours, to fill every worker's response cache "
                        "(default 5; quick 1)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--connection", choices=("close", "keep-alive", "both"), default=None,
                        help="a new connection per request (Connection: close), kept-alive ones, or both "
                        "(default both; quick: keep-alive)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child-setup", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_setup:
        child_setup(*args.child_setup)
        return 0
    certs = args.certs or (10 if args.quick else 500)
    duration = args.duration or (1.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 5.0)
    workers = 1 if args.quick and args.workers_given is None else (args.workers_given or 2)
    connection = args.connection or ("keep-alive" if args.quick else "both")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="openjpki-ocsp-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        modes = {"close": [True], "keep-alive": [False], "both": [True, False]}[connection]
        result = run(certs, workers, duration, warmup, args.connections, workdir, modes)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

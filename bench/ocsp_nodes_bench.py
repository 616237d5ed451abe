"""OCSP on two nodes against one node against ``openssl ocsp``, side by side in one run.

The store is a fresh schema of a PostgreSQL database (``--database-url``, default
``$OPENJPKI_TEST_POSTGRES_URL``) with ``--certs`` AUTH certificates, a tenth revoked (the
setup of bench/ocsp_bench.py, whose helpers this reuses). Then, each loaded by Debian's
``wrk`` (RFC 5019 GET requests cycling through every certificate) for ``--duration`` s:

* one node: ``openjpki serve --production`` on 127.0.0.2;
* two nodes: the same on 127.0.0.2 and 127.0.0.3, both on the one store, each loaded by its
  own ``wrk`` with half the connections at the same time (a load balancer's split); the
  figure is the sum;
* ``openssl ocsp -index … -multi 1`` on the same certificates.

Ours are warmed first (their response caches filled). On this benchmark the load generator
runs on the same machine as the servers: with two cores, two nodes share the CPUs with
two ``wrk`` processes, so the figure says what a second node costs and gives here, not
what it gives on a second machine. Each node's answers to one good and one revoked
certificate are checked with ``openssl ocsp -respin`` first.

    .venv/bin/python bench/ocsp_nodes_bench.py [--duration 10] [--certs 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(BENCH))

import ocsp_bench as ob  # noqa: E402

from openjpki.store.testing import postgres_schema_url  # noqa: E402

HOSTS = ("127.0.0.2", "127.0.0.3")


def wrk_argv(host: str, port: int, paths: Path, lua: Path, seconds: float, connections: int,
             close: bool) -> tuple[list[str], dict]:
    env = dict(os.environ, OCSP_PATHS=str(paths), OCSP_CLOSE="1" if close else "0")
    return (["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", str(lua), f"http://{host}:{port}"], env)


def parse_wrk(text: str) -> dict:
    m = ob._RPS.search(text)
    if m is None:
        raise SystemExit(f"wrk failed:\n{text[-2000:]}")
    pct = {f"p{k}_ms": round(float(v) * ob._UNIT[u], 3) for k, v, u in ob._PCT.findall(text)}
    return {"rps": float(m.group(1)), **pct}


def load(targets: list[tuple[str, int]], wd: Path, seconds: float, connections: int,
         close: bool, side: str) -> dict:
    """wrk on every target at once, connections split evenly; rps summed."""
    procs = []
    for host, port in targets:
        argv, env = wrk_argv(host, port, wd / f"paths-uniform-{side}.txt", wd / "rotate.lua", seconds,
                             max(1, connections // len(targets)), close)
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    parts = [parse_wrk(p.communicate(timeout=seconds + 120)[0]) for p in procs]
    return {"rps": round(sum(p["rps"] for p in parts), 1), "parts": parts,
            "p99_ms": max(p.get("p99_ms", 0) for p in parts)}


def node(setup: dict, url: str, host: str, wd: Path) -> tuple[subprocess.Popen, int]:
    port = ob.free_port()
    env = dict(os.environ)
    env.pop("OPENJPKI_CA_PASSPHRASE", None)
    argv = [sys.executable, "-m", "openjpki", "--home", setup["home"], "--database-url", url,
            "serve", "--production", "--host", host, "--port", str(port), "--node", host]
    proc = ob.start(argv, env, log=wd / f"node-{host}.log")
    return proc, port


def fetch(host: str, port: int, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as r:
        return r.read()


def wait(proc, host: str, port: int, path: str) -> None:
    import time

    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"node {host} exited with {proc.returncode}")
        try:
            fetch(host, port, path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"node {host} not ready") from None
            time.sleep(0.3)


def ours(setup: dict, url: str, wd: Path, n: int, seconds: float, warmup: float,
         connections: int, close: bool) -> dict:
    started = [node(setup, url, h, wd) for h in HOSTS[:n]]
    try:
        checks = []
        for (proc, port), host in zip(started, HOSTS):
            wait(proc, host, port, setup["known"]["good"]["ours"])
            for status in ("good", "revoked"):
                der = fetch(host, port, setup["known"][status]["ours"])
                checks.append(ob.check_response(der, wd / f"{host}-{status}.der", setup, status))
        targets = [(h, port) for (_, port), h in zip(started, HOSTS)]
        load(targets, wd, warmup, connections, close, "ours")
        result = load(targets, wd, seconds, connections, close, "ours")
    finally:
        for proc, _ in started:
            ob.stop(proc)
    result["verified"] = all(c["verified"] and c["status_ok"] for c in checks)
    return result


def openssl(setup: dict, wd: Path, seconds: float, connections: int, close: bool) -> dict:
    port = ob.free_port()
    argv, cwd = ob.server_argv("openssl", 1, port, setup)
    proc = ob.start(argv, dict(os.environ), cwd, wd / "openssl.log")
    try:
        ob.wait_ready(proc, port, setup["known"]["good"]["openssl"])
        checks = [ob.check_response(ob.fetch(port, setup["known"][s]["openssl"]),
                                    wd / f"openssl-{s}.der", setup, s) for s in ("good", "revoked")]
        ob.stop(proc)  # a fresh server for the run (see ocsp_bench.measure)
        proc = ob.start(argv, dict(os.environ), cwd, wd / "openssl.log")
        ob.wait_ready(proc, port, setup["known"]["good"]["openssl"])
        result = load([("127.0.0.1", port)], wd, seconds, connections, close, "openssl")
    finally:
        ob.stop(proc)
    result["verified"] = all(c["verified"] and c["status_ok"] for c in checks)
    return result


def run(url: str, certs: int, seconds: float, warmup: float, connections: int) -> dict:
    wd = Path(tempfile.mkdtemp(prefix="openjpki-ocsp-nodes-"))
    try:
        with postgres_schema_url(url) as schema_url:
            env = dict(os.environ, OPENJPKI_DATABASE_URL=schema_url)
            p = subprocess.run([sys.executable, str(BENCH / "ocsp_bench.py"), "--child-setup",
                                str(wd), str(certs)], env=env, capture_output=True, text=True,
                               timeout=1800)
            if p.returncode != 0:
                raise SystemExit(f"setup failed:\n{p.stderr[-3000:]}")
            setup = json.loads(p.stdout.strip().splitlines()[-1])
            (wd / "rotate.lua").write_text(ob.LUA)
            out = {"bench": "ocsp-nodes", "certs": certs, "duration_s": seconds,
                   "connections": connections, "load_average_before": [round(x, 2) for x in os.getloadavg()],
                   "runs": {}}
            for close in (True, False):
                mode = "close" if close else "keep-alive"
                runs = {"1 node": ours(setup, schema_url, wd, 1, seconds, warmup, connections, close),
                        "2 nodes": ours(setup, schema_url, wd, 2, seconds, warmup, connections, close),
                        "openssl ocsp": openssl(setup, wd, seconds, connections, close)}
                out["runs"][mode] = runs
                for name, r in runs.items():
                    print(f"  {mode:10s} {name:12s} {r['rps']:9.1f} req/s  p99 {r['p99_ms']} ms  "
                          f"answers {'verified' if r['verified'] else 'NOT VERIFIED'}", flush=True)
            out["load_average"] = [round(x, 2) for x in os.getloadavg()]
            return out
    finally:
        shutil.rmtree(wd, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("OPENJPKI_TEST_POSTGRES_URL"))
    parser.add_argument("--certs", type=int, default=500)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="50 certificates, 1 s runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url:
        raise SystemExit("ocsp_nodes_bench: give --database-url (PostgreSQL)")
    certs, seconds, warmup = (50, 1.0, 1.0) if args.quick else (args.certs, args.duration, args.warmup)
    r = run(args.database_url, certs, seconds, warmup, args.connections)
    for mode, runs in r["runs"].items():
        one, two, osl = runs["1 node"]["rps"], runs["2 nodes"]["rps"], runs["openssl ocsp"]["rps"]
        print(f"RATIO ocsp-nodes connection={mode} two_vs_one={two / one:.2f} "
              f"one_vs_openssl={one / osl:.2f} two_vs_openssl={two / osl:.2f}")
    print(f"load average {r['load_average_before'][0]} before, {r['load_average'][0]} after")
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

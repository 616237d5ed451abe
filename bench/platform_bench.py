"""Verified logins per second through the platform API (``POST /verify/login`` of
``openjpki serve``, over HTTP) against the in-process verification ``openjpki verify`` does of
the same signature and certificate, and against pyhanko-certvalidator; latency under load.

One login = the caller's nonce signed with the card's AUTH key (PKCS#1 v1.5, SHA-256), the
AUTH certificate (a JWE to the platform's key, as the identity provider sends it, or a bare
PEM), and the platform's whole answer: the request read, the provider admitted, the JWE
decrypted (RSA-OAEP-256: one private-key operation), the signature, path, validity, purpose
and revocation checked, the nonce entered in the replay window, the registration found
through the AUTH link, the registered SIGN certificate's status checked, the facts answered
and the call written to the audit log — every request with its own fresh nonce (signed
before the clock starts: the client's card is not what is measured).

- **in process**: ``Verifier.verify`` as ``openjpki verify`` builds it on the home (every root
  of the store, revocation from the authorities' records), same nonce, signature and
  certificate, in one loop;
- **pyhanko-certvalidator**: the same certificate validated for ``digital_signature`` against
  the AUTH root with the AUTH CRL (revocation required), plus the same signature check with
  ``cryptography``; its ValidationContext kept for the run (caches warm);
- **HTTP**: ``openjpki serve`` (1 and 2 worker processes) in a child process, a small
  asyncio HTTP/1.1 client with keep-alive connections in this one (both share the machine's
  two cores); rate is requests / wall second, latencies per request.

    .venv/bin/python bench/platform_bench.py [--quick] [--json] [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from openjpki.config import Settings  # noqa: E402
from openjpki.pki import Kind, SignFacts  # noqa: E402
from openjpki.private_home import set_private_umask  # noqa: E402
from openjpki.services.authority_home import initialise_home, open_authorities  # noqa: E402
from openjpki.services.authority_setup import PASSPHRASE_ENV  # noqa: E402
from openjpki.services.authority_testing import PASSPHRASE, seed_ca_keys  # noqa: E402
from openjpki.services.platform import KeyStore, encrypt_certificate  # noqa: E402
from openjpki.services.platform.keys import public_jwk  # noqa: E402
from openjpki.services.relying_party import make_verifier, store_roots  # noqa: E402

FACTS = SignFacts(name="速度\u3000計測", address="埼玉県川口市青木二丁目1番1号", birth_date=date(1980, 5, 15), sex=1)
SENDER = "BENCH"


def pkcs1(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class Home:
    """A home with one registered-to-be holder: its SIGN and AUTH certificates and keys."""

    def __init__(self, path: Path) -> None:
        set_private_umask()  # openjpki serve refuses a home other users can read
        os.environ[PASSPHRASE_ENV] = PASSPHRASE.decode()
        self.settings = Settings.resolve(path)
        seed_ca_keys(self.settings.keys_dir)
        now = datetime.now(timezone.utc)
        initialise_home(self.settings, now=now - timedelta(days=2))
        self.service = open_authorities(self.settings)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        at = now - timedelta(hours=1)
        self.sign = self.service.issue(Kind.SIGN, self.key.public_key(), last_valid_day=date(2030, 5, 15), now=at,
                                       resident_id="bench-1", prefecture="埼玉県", municipality="川口市",
                                       facts=FACTS).certificate
        self.auth = self.service.issue(Kind.AUTH, self.key.public_key(), last_valid_day=date(2030, 5, 15), now=at,
                                       resident_id="bench-1").certificate
        self.jwk = public_jwk(KeyStore(self.settings.keys_dir).keys(now).current)

    def pem(self, cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def body(self, call: str, jwe: bool) -> bytes:
        cert = self.auth if call == "login" else self.sign
        nonce = str(uuid.uuid4())
        names = (("encryptedCertificateForUser", "nonceData", "nonceSign") if call == "login"
                 else ("encryptedCertificateForSign", "applicantData", "sign"))
        certificate = encrypt_certificate(self.pem(cert), self.jwk) if jwe else self.pem(cert).decode()
        import base64
        return json.dumps({"requestInfo": {"transactionId": str(uuid.uuid4()), "recipient": "JPKI",
                                           "sender": SENDER, "ts": "2025-04-01 10:00:00.000"},
                           names[0]: certificate, names[1]: nonce,
                           names[2]: base64.b64encode(pkcs1(self.key, nonce.encode())).decode()}).encode()


def in_process_rate(home: Home, seconds: float) -> float:
    """``openjpki verify``'s verification (make_verifier on the home's store), per wall second."""
    verifier = make_verifier(roots=store_roots(home.service), service=home.service)
    nonce = str(uuid.uuid4()).encode()
    sig = pkcs1(home.key, nonce)
    der = home.auth.public_bytes(serialization.Encoding.DER)
    now = datetime.now(timezone.utc)
    assert verifier.verify(nonce, sig, der, at=now, purpose="auth").valid
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            verifier.verify(nonce, sig, der, at=now, purpose="auth")
        n += 50
    return n / (time.perf_counter() - start), n / max(time.process_time() - cpu, 1e-9)


def cli_rate(home: Home, runs: int) -> float:
    """The ``openjpki verify`` command itself, one process a verification (what a relying party
    shelling out to it pays: Python's start-up and imports included)."""
    work = home.settings.home / "cli"
    work.mkdir(exist_ok=True)
    nonce = str(uuid.uuid4()).encode()
    (work / "nonce").write_bytes(nonce)
    (work / "nonce.sig").write_bytes(pkcs1(home.key, nonce))
    (work / "auth.pem").write_bytes(home.pem(home.auth))
    argv = [sys.executable, "-m", "openjpki", "--home", str(home.settings.home), "verify", str(work / "nonce"),
            "--signature", str(work / "nonce.sig"), "--certificate", str(work / "auth.pem"), "--purpose", "auth",
            "--json"]
    start = time.perf_counter()
    for _ in range(runs):
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0 and json.loads(done.stdout)["valid"], done.stdout + done.stderr
    return runs / (time.perf_counter() - start)


def pyhanko_rate(home: Home, seconds: float) -> float:
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    now = datetime.now(timezone.utc)
    root = home.service.current("auth").root
    crl = home.service.crl("auth", None, now=now).der
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
                                crls=[asn1_crl.CertificateList.load(crl)], revocation_mode="require", moment=now,
                                allow_fetching=False)
    cert = asn1_x509.Certificate.load(home.auth.public_bytes(serialization.Encoding.DER))
    key = home.auth.public_key()
    nonce = str(uuid.uuid4()).encode()
    sig = pkcs1(home.key, nonce)

    async def one() -> None:
        key.verify(sig, nonce, padding.PKCS1v15(), hashes.SHA256())
        await CertificateValidator(cert, validation_context=context).async_validate_usage({"digital_signature"})

    async def loop() -> float:
        await one()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            await one()
            n += 1
        return n / (time.perf_counter() - start)
    return asyncio.run(loop())


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its living descendants
    (the server's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Home, workers: int) -> None:
        self.port = free_port()
        env = dict(os.environ, OPENJPKI_SERVICE_MODE="sandbox")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home.settings.home), "serve",
                                      "--port", str(self.port), "--workers", str(workers)],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"GET /key/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in s.recv(100):
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("openjpki serve did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def _connection(port: int, bodies: list[bytes], path: str, latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n".encode()
    for body in bodies:
        start = time.perf_counter()
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        statuses.append(int(status_line.split()[1]))
    writer.close()


def load(port: int, bodies: list[bytes], concurrency: int, path: str = "/verify/login") -> dict:
    latencies: list[float] = []
    statuses: list[int] = []
    shares = [bodies[i::concurrency] for i in range(concurrency)]

    async def all_() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_connection(port, s, path, latencies, statuses) for s in shares if s))
        return time.perf_counter() - start
    wall = asyncio.run(all_())
    latencies.sort()
    return {"requests": len(bodies), "rps": round(len(bodies) / wall, 1),
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
            "ok": statuses.count(200), "statuses": sorted(set(statuses))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few requests, short rounds (the test)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    n = args.requests or (60 if args.quick else 2000)
    seconds = 0.3 if args.quick else 3.0
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        inproc, inproc_cpu = in_process_rate(home, seconds)
        pyhanko = pyhanko_rate(home, seconds)
        cli = cli_rate(home, 2 if args.quick else 5)
        runs: dict[str, dict] = {}
        for workers in (1, 2):
            server = Server(home, workers)
            try:
                if workers == 1:  # registered once: the logins find the holder through the AUTH link
                    assert load(server.port, [home.body("registration", True)], 1, "/verify/registration")["ok"] == 1
                for jwe in (False, True):
                    warm = [home.body("login", jwe) for _ in range(max(8, n // 20))]
                    load(server.port, warm, args.concurrency)  # warm-up: connections, caches, JIT of SQLAlchemy
                    bodies = [home.body("login", jwe) for _ in range(n)]
                    cpu = tree_cpu_seconds(server.proc.pid)
                    measured = load(server.port, bodies, args.concurrency)
                    cpu = tree_cpu_seconds(server.proc.pid) - cpu
                    measured["server_cpu_ms_per_login"] = round(1000 * cpu / n, 3)
                    measured["per_server_cpu_second"] = round(n / cpu, 1) if cpu > 0 else None
                    runs[f"{'jwe' if jwe else 'pem'}_{workers}w"] = measured
            finally:
                server.stop()
    best = max(r["rps"] for r in runs.values())
    load_avg = os.getloadavg()
    result = {"in_process_per_second": round(inproc, 1), "in_process_per_cpu_second": round(inproc_cpu, 1),
              "pyhanko_per_second": round(pyhanko, 1), "cli_per_second": round(cli, 2), "http": runs,
              "ratio_http_jwe_2w_to_in_process": round(runs["jwe_2w"]["rps"] / inproc, 3),
              "ratio_http_best_to_in_process": round(best / inproc, 3),
              "ratio_http_jwe_2w_to_pyhanko": round(runs["jwe_2w"]["rps"] / pyhanko, 2),
              "concurrency": args.concurrency, "load_average": [round(x, 2) for x in load_avg]}
    for name, r in runs.items():
        print(f"RATIO platform run={name} rps={r['rps']} p50={r['p50_ms']} p99={r['p99_ms']} "
              f"vs_in_process={r['rps'] / inproc:.3f} vs_pyhanko={r['rps'] / pyhanko:.2f}")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"in process (openjpki verify's verifier): {inproc:10.1f} verifications/s "
              f"({inproc_cpu:.1f} per CPU second)")
        print(f"pyhanko-certvalidator:                   {pyhanko:10.1f} validations/s")
        print(f"openjpki verify, a process each:         {cli:10.2f} verifications/s")
        for name, r in runs.items():
            print(f"HTTP {name:7s}: {r['rps']:8.1f} logins/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  "
                  f"({r['ok']}/{r['requests']} answered 200; server CPU {r['server_cpu_ms_per_login']} ms a login)")
        print(f"load average {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    return result


if __name__ == "__main__":
    main()

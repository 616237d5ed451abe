"""The cost of keeping the authority key in a PKCS#11 token: SoftHSM2 against the key file,
side by side in one process, with ``openssl speed rsa2048`` before and after as the reference.

Per side, interleaved in batches of 16 so both see the same machine load: AUTH certificates
issued (``issue_certificate``: one RSA-2048 signature each) and OCSP responses built
(``build_ocsp_response``: one signature each), once with a key in a SoftHSM2 token (python-
pkcs11, a token directory made for the run, SOFTHSM2_CONF pointing at it) and once with the
same kind of key in memory as the key file gives it (FileSigner). Every output is checked
against its root once. Rates are per wall-clock second and per CPU-second of this process
(SoftHSM2 runs inside it).

    .venv/bin/python bench/hsm_bench.py [--seconds 10] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "123456"
_R1 = re.compile(r"^\+R1:(\d+):2048:([0-9.]+)$", re.M)


def openssl_speed(seconds: int) -> float:
    p = subprocess.run(["openssl", "speed", "-mr", "-seconds", str(seconds), "rsa2048"],
                       capture_output=True, text=True, timeout=seconds * 4 + 60)
    m = _R1.search(p.stdout + p.stderr)
    if m is None:
        raise SystemExit("openssl speed failed")
    return int(m.group(1)) / float(m.group(2))


def token_dir(base: Path) -> None:
    tokens = base / "tokens"
    tokens.mkdir(mode=0o700)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", PIN,
                    "--so-pin", "12345678"], check=True, capture_output=True)


def sides():
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.pki import Kind, KeySigner, make_root
    from openjpki.pki.signer_pkcs11 import open_token

    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    token = open_token(MODULE, "bench", PIN)
    signers = {"softhsm2": token.generate("bench-auth"),
               "file key": KeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))}
    return now, {name: (s, make_root(Kind.AUTH, s, not_before=now)) for name, s in signers.items()}


def work(now, signer, root, holder, cert_id):
    from openjpki.pki import CertStatus, Kind, build_ocsp_response, issue_certificate, new_serial

    last = (now + timedelta(days=365)).date()

    def cert(i: int):
        return issue_certificate(Kind.AUTH, issuer=root, signer=signer, public_key=holder,
                                 serial=new_serial(), not_before=now + timedelta(hours=1),
                                 last_valid_day=last, subject_id=f"{i:020X}")

    def response(i: int):
        t = now + timedelta(hours=2)
        return build_ocsp_response(issuer=root, signer=signer, cert_id=cert_id,
                                   status=CertStatus.good(), this_update=t,
                                   next_update=t + timedelta(hours=1), produced_at=t)
    return {"certificates": cert, "ocsp": response}


def run(seconds: float) -> dict:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509 import ocsp

    from openjpki.pki import parse_ocsp_request

    now, made = sides()
    holder = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    jobs = {}
    for name, (signer, root) in made.items():
        sample = work(now, signer, root, holder, None)["certificates"](0)
        req = ocsp.OCSPRequestBuilder().add_certificate(sample, root, hashes.SHA1()).build()
        cert_id = parse_ocsp_request(req.public_bytes(serialization.Encoding.DER)).cert_ids[0]
        fns = work(now, signer, root, holder, cert_id)
        # checked once by cryptography against the side's root
        root.public_key().verify(sample.signature, sample.tbs_certificate_bytes,
                                 padding.PKCS1v15(), hashes.SHA256())
        resp = ocsp.load_der_ocsp_response(fns["ocsp"](0))
        root.public_key().verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(),
                                 hashes.SHA256())
        for what, f in fns.items():
            jobs[(name, what)] = [f, 0, 0.0, 0.0]
    reference = [openssl_speed(max(1, int(seconds / 4)))]
    deadline = time.perf_counter() + seconds * len(jobs)
    i = 0
    while time.perf_counter() < deadline:
        for job in jobs.values():
            w0, c0 = time.perf_counter(), time.process_time()
            for k in range(16):
                job[0](i + k)
            job[1] += 16
            job[2] += time.perf_counter() - w0
            job[3] += time.process_time() - c0
        i += 16
    reference.append(openssl_speed(max(1, int(seconds / 4))))
    openssl = sum(reference) / len(reference)
    out = {"bench": "hsm", "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
           "load_average": [round(x, 2) for x in os.getloadavg()], "seconds_per_side": seconds,
           "openssl_speed_per_cpu_second": round(openssl, 1), "sides": {}}
    for (name, what), (_, ops, wall, cpu) in jobs.items():
        out["sides"].setdefault(name, {})[what] = {
            "ops": ops, "per_second": round(ops / wall, 1), "per_cpu_second": round(ops / cpu, 1),
            "vs_openssl": round(ops / cpu / openssl, 3)}
    return out


def report(r: dict) -> None:
    print(f"PKCS#11 (SoftHSM2) vs key file ({r['date']}, load average {r['load_average'][0]}, "
          f"{r['seconds_per_side']} s a side; openssl speed rsa2048 {r['openssl_speed_per_cpu_second']} /CPU-s)")
    for what in ("certificates", "ocsp"):
        for name, side in r["sides"].items():
            s = side[what]
            print(f"  {what:12s} {name:9s} {s['per_second']:8.1f} /s {s['per_cpu_second']:8.1f} /CPU-s "
                  f"({s['vs_openssl'] * 100:5.1f} % of openssl)")
    hsm, file = r["sides"]["softhsm2"], r["sides"]["file key"]
    print(f"RATIO hsm certificates={hsm['certificates']['per_second'] / file['certificates']['per_second']:.3f} "
          f"ocsp={hsm['ocsp']['per_second'] / file['ocsp']['per_second']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not Path(MODULE).exists() or shutil.which("softhsm2-util") is None:
        raise SystemExit("hsm_bench: SoftHSM2 is not installed (scripts/setup installs softhsm2)")
    base = Path(tempfile.mkdtemp(prefix="openjpki-hsm-bench-"))
    try:
        token_dir(base)
        r = run(1.0 if args.quick else args.seconds)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(r)
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

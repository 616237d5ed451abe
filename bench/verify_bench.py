"""Relying-party verifications per second: OpenJPKI's verifier against pyhanko-certvalidator
on the same inputs.

One verification = the card's document signature (PKCS#1 v1.5, SHA-256) checked with the
certificate's key + the certificate's path to the SIGN root + revocation by the municipality's
partition CRL.  Both sides get the same certificates (most good, some revoked), the same
signatures, the same CRL (with filler entries, as a real SIGN CRL is large) and the same
moment; both must reach the same verdict on every input (checked).

pyhanko-certvalidator is given its best case: certificates and the CRL parsed once into
asn1crypto objects, one ValidationContext kept for the whole run (its caches warm), one event
loop.  OpenJPKI's Verifier gets certificate DER bytes and the CRL DER, as a relying party's
request brings them.  The two sides alternate in rounds and the best round of each counts, so
a busy machine penalises both alike; rates are per CPU second of the benchmark process.

    .venv/bin/python bench/verify_bench.py [--quick] [--json] [--crl-entries N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from asn1crypto import crl as asn1_crl  # noqa: E402
from asn1crypto import x509 as asn1_x509  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from openjpki.pki import (  # noqa: E402
    KeySigner, Kind, SignFacts, build_crl, encode_revoked_entry, issue_certificate, make_root, new_serial,
)
from openjpki.pki.verify import Verifier  # noqa: E402
from openjpki.pki.verify_crl import CrlSource  # noqa: E402

NOW = datetime(2025, 4, 1, 1, 0, tzinfo=timezone.utc)
AT = NOW + timedelta(hours=1)
FACTS = SignFacts(name="山田\u3000太郎", address="埼玉県川口市青木二丁目1番1号", birth_date=date(1980, 5, 15), sex=1)
PLACE = ("埼玉県", "川口市")
DOC = "確定申告書等作成コーナー: 申告書データ\n".encode() * 100


def make_inputs(n_certs: int, n_revoked: int, crl_entries: int):
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    card_keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
    signer = KeySigner(ca_key)
    root = make_root(Kind.SIGN, signer, not_before=datetime(2023, 7, 16, tzinfo=timezone.utc))
    cases = []
    for i in range(n_certs):
        key = card_keys[i % 2]
        cert = issue_certificate(Kind.SIGN, issuer=root, signer=signer, public_key=key.public_key(),
                                 serial=new_serial(), not_before=NOW - timedelta(days=10),
                                 last_valid_day=date(2029, 5, 15), subject_id=f"{i:020X}",
                                 prefecture=PLACE[0], municipality=PLACE[1], facts=FACTS)
        signature = key.sign(DOC, padding.PKCS1v15(), hashes.SHA256())
        cases.append((cert, signature, i < n_revoked))
    entries = [encode_revoked_entry(c.serial_number, NOW - timedelta(hours=2), x509.ReasonFlags.affiliation_changed)
               for c, _, revoked in cases if revoked]
    entries += [encode_revoked_entry(new_serial(), NOW - timedelta(days=3), x509.ReasonFlags.superseded)
                for _ in range(crl_entries)]
    crl = build_crl(issuer=root, signer=signer, entries=entries, crl_number=1, this_update=NOW,
                    next_update=NOW + timedelta(days=1), partition=PLACE)
    return root, cases, crl


class Ours:
    label = "openjpki"

    def __init__(self, root, cases, crl):
        self.verifier = Verifier([root], revocation=[CrlSource([crl])])
        self.items = [(c.public_bytes(serialization.Encoding.DER), s) for c, s, _ in cases]

    def verdicts(self) -> list[str]:
        return [self.verifier.verify(DOC, s, d, at=AT, purpose="sign").status for d, s in self.items]

    def run(self, n: int) -> None:
        verify, items, m = self.verifier.verify, self.items, len(self.items)
        for i in range(n):
            d, s = items[i % m]
            verify(DOC, s, d, at=AT, purpose="sign")


class Pyhanko:
    label = "pyhanko-certvalidator"

    def __init__(self, root, cases, crl):
        from pyhanko_certvalidator import ValidationContext

        self.context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
            crls=[asn1_crl.CertificateList.load(crl)], revocation_mode="require", moment=AT,
            allow_fetching=False)
        self.items = [(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)), c.public_key(), s)
                      for c, s, _ in cases]
        self.loop = asyncio.new_event_loop()

    async def _one(self, cert, key, signature) -> str:
        from pyhanko_certvalidator import CertificateValidator
        from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, RevokedError

        try:
            key.verify(signature, DOC, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "bad-signature"
        try:
            await CertificateValidator(cert, validation_context=self.context).async_validate_usage(
                {"digital_signature", "non_repudiation"})
        except RevokedError:
            return "revoked"
        except (PathValidationError, PathBuildingError):
            return "untrusted"
        return "good"

    def verdicts(self) -> list[str]:
        async def all_():
            return [await self._one(*item) for item in self.items]
        return self.loop.run_until_complete(all_())

    def run(self, n: int) -> None:
        items, m = self.items, len(self.items)

        async def loop():
            for i in range(n):
                await self._one(*items[i % m])
        self.loop.run_until_complete(loop())


def rate(side, seconds: float) -> float:
    """Verifications per CPU second of this process over about ``seconds`` (CPU time, so other
    work on a shared machine does not count against either side)."""
    clock = time.process_time
    n, spent = 1, 0.0
    while spent < seconds / 4:  # find a batch size that takes a measurable time
        n *= 2
        start = clock()
        side.run(n)
        spent = clock() - start
    batch = max(1, int(n * seconds / max(spent, 1e-9)))
    start = clock()
    side.run(batch)
    return batch / max(clock() - start, 1e-9)


def crl_parse_seconds(crl: bytes) -> dict[str, float]:
    """CPU seconds to turn the CRL into a set of revoked serials: our lean DER walk, against
    iterating cryptography's CRL object and asn1crypto's (what pyhanko-certvalidator uses)."""
    from openjpki.pki.verify_crl import parse_crl

    def ours():
        return parse_crl(crl).entries

    def cryptography_iter():
        return {r.serial_number for r in x509.load_der_x509_crl(crl)}

    def asn1crypto_iter():
        return {r["user_certificate"].native for r in asn1_crl.CertificateList.load(crl)["tbs_cert_list"]["revoked_certificates"]}

    out = {}
    for name, fn in (("openjpki", ours), ("cryptography", cryptography_iter), ("asn1crypto", asn1crypto_iter)):
        start = time.process_time()
        fn()
        out[name] = round(time.process_time() - start, 3)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, short rounds (the test)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--crl-entries", type=int, default=None, help="filler entries in the CRL")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    crl_entries = args.crl_entries if args.crl_entries is not None else (1000 if args.quick else 100_000)
    rounds = args.rounds or (2 if args.quick else 5)
    seconds = 0.5 if args.quick else 3.0
    n_certs, n_revoked = (8, 2) if args.quick else (40, 8)

    root, cases, crl = make_inputs(n_certs, n_revoked, crl_entries)
    start = time.perf_counter()
    ours = Ours(root, cases, crl)
    setup_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = Pyhanko(root, cases, crl)
    setup_theirs = time.perf_counter() - start
    crl_parse = crl_parse_seconds(crl)
    expected = ["revoked" if revoked else "good" for _, _, revoked in cases]
    verdicts = {"openjpki": ours.verdicts(), "pyhanko": theirs.verdicts()}
    agree = verdicts["openjpki"] == verdicts["pyhanko"] == expected
    rates: dict[str, list[float]] = {"openjpki": [], "pyhanko": []}
    for _ in range(rounds):
        rates["openjpki"].append(rate(ours, seconds))
        rates["pyhanko"].append(rate(theirs, seconds))
    best = {k: max(v) for k, v in rates.items()}
    result = {
        "inputs": {"certificates": n_certs, "revoked": n_revoked, "crl_entries": crl_entries + n_revoked,
                   "crl_bytes": len(crl), "document_bytes": len(DOC)},
        "setup_seconds": {"openjpki": round(setup_ours, 3), "pyhanko": round(setup_theirs, 3)},
        "verifications_per_second": {k: round(v, 1) for k, v in best.items()},
        "median_per_second": {k: round(statistics.median(v), 1) for k, v in rates.items()},
        "ratio": round(best["openjpki"] / best["pyhanko"], 1),
        "verdicts_agree": agree,
        "crl_index_cpu_seconds": crl_parse,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"inputs: {n_certs} certificates ({n_revoked} revoked), CRL of {crl_entries + n_revoked} entries "
              f"({len(crl) // 1024} KiB)")
        print(f"openjpki:              {best['openjpki']:10.1f} verifications/s")
        print(f"pyhanko-certvalidator: {best['pyhanko']:10.1f} verifications/s")
        print(f"ratio: {result['ratio']}x; verdicts agree: {agree}")
        print("CRL to a serial index (CPU s): " + ", ".join(f"{k} {v}" for k, v in crl_parse.items()))
    return result


if __name__ == "__main__":
    main()

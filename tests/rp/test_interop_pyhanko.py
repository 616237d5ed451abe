"""Cross-check with pyhanko-certvalidator, a validator we did not write: the same verdict on
the same certificates and CRLs (good, revoked, hold, another generation, a forgery); and the
benchmark script in its quick form (rates of both, the ratio, verdicts agreeing)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, RevokedError

from openjpki.pki.verify import Verifier
from openjpki.pki.verify_crl import CrlSource

from .conftest import AT, NOW, R, sign

ROOT = Path(__file__).resolve().parents[2]
DATA = b"document"


def asn1(cert):
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def pyhanko_verdict(cert, roots, crls) -> str:
    context = ValidationContext(trust_roots=[asn1(r) for r in roots], crls=[asn1_crl.CertificateList.load(c) for c in crls],
                                revocation_mode="require", moment=AT, allow_fetching=False)
    try:
        asyncio.run(CertificateValidator(asn1(cert), validation_context=context).async_validate_usage(
            {"digital_signature", "non_repudiation"}))
    except RevokedError:
        return "revoked"
    except (PathValidationError, PathBuildingError):
        return "untrusted"
    return "good"


@pytest.mark.interop
def test_same_verdicts_as_pyhanko_certvalidator(roots, issue, make_crl, keys):
    good, revoked, held, gen1, forged = issue(), issue(), issue(), issue("sign1"), issue("forger")
    crls = [make_crl("sign2", [(revoked, R.affiliation_changed, NOW), (held, R.certificate_hold, NOW)], filler=20),
            make_crl("sign1")]
    trusted = [roots["sign1"], roots["sign2"]]
    ours = Verifier(trusted, revocation=[CrlSource(crls)])
    expected = {"good": "good", "revoked": "revoked", "held": "hold", "gen1": "good", "forged": "untrusted"}
    for name, cert in (("good", good), ("revoked", revoked), ("held", held), ("gen1", gen1), ("forged", forged)):
        mine = ours.verify(DATA, sign(keys["card"], DATA), cert, at=AT, purpose="sign").status
        theirs = pyhanko_verdict(cert, trusted, crls)
        assert mine == expected[name], name
        # pyhanko reports a hold as a revocation (RevokedError with reason certificate_hold)
        assert theirs == {"hold": "revoked"}.get(mine, mine), name


@pytest.mark.interop
@pytest.mark.slow
def test_benchmark_quick_runs_and_beats_pyhanko_tenfold():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "verify_bench.py"), "--quick", "--json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["verdicts_agree"] is True
    rates = result["verifications_per_second"]
    assert rates["openjpki"] > 0 and rates["pyhanko"] > 0
    assert result["ratio"] >= 10, result

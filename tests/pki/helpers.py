"""Values and small helpers shared by the pki tests."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openjpki.pki import SignFacts

NOW = datetime(2025, 4, 1, 1, 0, 0, tzinfo=timezone.utc)  # 10:00 JST, the injected clock
ROOT_START = datetime(2023, 7, 16, 0, 50, 27, tzinfo=timezone.utc)
REFERENCE = Path(__file__).parent / "data"  # the real 2023 roots (public)

FACTS = SignFacts(name="髙橋\u3000𠮷男", address="東京都千代田区霞が関一丁目２番３号", birth_date=date(1989, 1, 8), sex=1)


def pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def crl_pem(path: Path, crl_der: bytes) -> Path:
    path.write_bytes(x509.load_der_x509_crl(crl_der).public_bytes(serialization.Encoding.PEM))
    return path


def openssl(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=check, timeout=60)


def at(moment: datetime) -> str:
    """openssl -attime value."""
    return str(int(moment.timestamp()))


ONE_DAY = timedelta(days=1)

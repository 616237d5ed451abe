"""Helpers for tests of the authorities (never used by the running system): CA keys made
once per process and copied into each test's home, one holder key, sample SIGN facts."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.pki import FileSigner, SignFacts
from openjpki.private_home import make_private_dir
from openjpki.services.authority import AuthorityService, CertificateRecord
from openjpki.services.authority_setup import key_file_name

PASSPHRASE = b"test passphrase, not a secret"
_ca_files: dict[str, bytes] = {}
_holder: list[rsa.RSAPrivateKey] = []


def seed_ca_keys(keys_dir: Path, passphrase: bytes = PASSPHRASE) -> None:
    """Put generation-1 key files for both authorities into ``keys_dir`` (generated once per
    process and copied, since RSA key generation is the slow part of setting up a test)."""
    make_private_dir(keys_dir)
    for kind in ("sign", "auth"):
        if kind not in _ca_files:
            tmp = keys_dir / f".seed-{kind}.key"
            FileSigner.generate(tmp, PASSPHRASE)
            _ca_files[kind] = tmp.read_bytes()
            tmp.unlink()
        if passphrase != PASSPHRASE:
            raise ValueError("seeded keys use PASSPHRASE")
        path = keys_dir / key_file_name(kind, 1)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_ca_files[kind])


def holder_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key standing in for a card's key in every test certificate."""
    if not _holder:
        _holder.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _holder[0]


def sample_facts(**changes) -> SignFacts:
    values = dict(name="試験　花子", address="東京都千代田区霞が関一丁目１番１号",
                  birth_date=date(1990, 4, 1), sex=2)
    values.update(changes)
    return SignFacts(**values)


def issue_sample(service: AuthorityService, kind: str, *, now: datetime,
                 resident_id: Optional[str] = None, prefecture: str = "東京都",
                 municipality: str = "千代田区", last_valid_day: Optional[date] = None,
                 supersede: bool = True) -> CertificateRecord:
    last = last_valid_day or (now + timedelta(days=3 * 365)).date()
    sign = kind == "sign"
    return service.issue(kind, holder_key().public_key(), last_valid_day=last, now=now,
                         resident_id=resident_id, supersede=supersede,
                         prefecture=prefecture if sign else None,
                         municipality=municipality if sign else None,
                         facts=sample_facts() if sign else None)

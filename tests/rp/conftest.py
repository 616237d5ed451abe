"""Fixtures of the relying-party tests: two generations of the SIGN root with ONE DN, an
AUTH root, a forger's key, card keys, and helpers to issue certificates and make CRLs."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openjpki.pki import (
    KeySigner, Kind, ProfileOptions, SignFacts, build_crl, encode_revoked_entry, issue_certificate,
    make_root, new_serial,
)

NOW = datetime(2025, 4, 1, 1, 0, tzinfo=timezone.utc)  # 10:00 JST: the injected clock
AT = NOW + timedelta(hours=1)
GEN1_START = datetime(2019, 7, 1, tzinfo=timezone.utc)
GEN2_START = datetime(2023, 7, 16, 0, 50, 27, tzinfo=timezone.utc)
FACTS = SignFacts(name="山田\u3000花子", address="埼玉県川口市青木二丁目1番1号", birth_date=date(1988, 2, 29), sex=2)
PLACE = ("埼玉県", "川口市")
R = x509.ReasonFlags


def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """What the card's sign command makes: PKCS#1 v1.5 over SHA-256 of the data."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="session")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    names = ("sign1", "sign2", "auth", "forger", "card", "card2")
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in names}


@pytest.fixture(scope="session")
def signers(keys) -> dict[str, KeySigner]:
    return {n: KeySigner(keys[n]) for n in ("sign1", "sign2", "auth", "forger")}


@pytest.fixture(scope="session")
def roots(signers) -> dict[str, x509.Certificate]:
    """sign1 (2019) and sign2 (2023) share the DN; forger is a root made the same way by an
    unrelated key (so it too has that DN)."""
    return {
        "sign1": make_root(Kind.SIGN, signers["sign1"], not_before=GEN1_START),
        "sign2": make_root(Kind.SIGN, signers["sign2"], not_before=GEN2_START),
        "forger": make_root(Kind.SIGN, signers["forger"], not_before=GEN2_START),
        "auth": make_root(Kind.AUTH, signers["auth"], not_before=GEN2_START),
    }


@pytest.fixture(scope="session")
def issue(roots, signers, keys):
    """issue(root="sign2", kind=SIGN, key="card", signer=None, **overrides) -> certificate."""

    def _issue(root: str = "sign2", *, kind: Kind | None = None, key: str = "card", signer: str | None = None,
               **kw) -> x509.Certificate:
        kind = kind or (Kind.AUTH if root == "auth" else Kind.SIGN)
        args = dict(issuer=roots[root], signer=signers[signer or root], public_key=keys[key].public_key(),
                    serial=new_serial(), not_before=NOW - timedelta(days=30), last_valid_day=date(2029, 2, 28),
                    subject_id=new_serial().to_bytes(16, "big").hex()[:20].upper(), options=ProfileOptions())
        if kind is Kind.SIGN:
            args.update(prefecture=PLACE[0], municipality=PLACE[1], facts=FACTS)
        args.update(kw)
        return issue_certificate(kind, **args)

    return _issue


@pytest.fixture(scope="session")
def make_crl(roots, signers):
    """make_crl(root, [(cert or serial, reason, revoked_at)], partition=PLACE, **kw) -> DER."""

    def _make(root: str, revoked=(), *, signer: str | None = None, partition=PLACE, number: int = 1,
              this_update: datetime = NOW, next_update: datetime | None = None, filler: int = 0) -> bytes:
        entries = []
        for item, reason, when in revoked:
            serial = item.serial_number if isinstance(item, x509.Certificate) else item
            entries.append(encode_revoked_entry(serial, when, reason))
        entries += [encode_revoked_entry(new_serial(), NOW - timedelta(days=2), R.superseded) for _ in range(filler)]
        kind_partition = partition if root != "auth" else None
        return build_crl(issuer=roots[root], signer=signers[signer or root], entries=entries, crl_number=number,
                         this_update=this_update, next_update=next_update or this_update + timedelta(days=1),
                         partition=kind_partition)

    return _make

"""Shared fixtures: a few RSA keys made once per session, the roots, an issuing helper."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.pki import KeySigner, Kind, ProfileOptions, issue_certificate, make_root, new_serial

from .helpers import FACTS, NOW, ROOT_START


@pytest.fixture(scope="session")
def keys() -> list[rsa.RSAPrivateKey]:
    """Five RSA-2048 keys: two CA keys, three card keys (key generation is slow)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(5)]


@pytest.fixture(scope="session")
def signers(keys) -> dict[Kind, KeySigner]:
    return {Kind.SIGN: KeySigner(keys[0]), Kind.AUTH: KeySigner(keys[1])}


@pytest.fixture(scope="session")
def roots(signers) -> dict[tuple[Kind, str], x509.Certificate]:
    """Roots for both kinds and both environments (same keys)."""
    return {
        (kind, env): make_root(kind, signers[kind], not_before=ROOT_START, options=ProfileOptions(environment=env))
        for kind in Kind
        for env in ("test", "production")
    }


@pytest.fixture(scope="session")
def issue(roots, signers, keys):
    """issue(kind, env="test", key=2, **overrides) -> certificate, with sensible defaults."""

    def _issue(kind: Kind, env: str = "test", key: int = 2, **kw) -> x509.Certificate:
        args = dict(
            issuer=roots[(kind, env)],
            signer=signers[kind],
            public_key=keys[key].public_key(),
            serial=new_serial(),
            not_before=NOW,
            last_valid_day=date(2030, 3, 31),
            subject_id="0123456789ABCDEF",
            options=ProfileOptions(environment=env),
        )
        if kind is Kind.SIGN:
            args.update(prefecture="東京都", municipality="千代田区", facts=FACTS)
        args.update(kw)
        return issue_certificate(kind, **args)

    return _issue

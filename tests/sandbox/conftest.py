"""Fixtures of the sandbox tests: the CA passphrase in the environment (children inherit
it), a pool of card keys (RSA generation is the slow part of making cards), and the CLI in
process."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE


# Package scope: what these fixtures set holds for tests/sandbox only and is undone after it
# (a session-scoped one would stay set for every test that runs later in the process).
@pytest.fixture(scope="package", autouse=True)
def _passphrase():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
        mp.delenv("OPENJPKI_SERVICE_MODE", raising=False)
        mp.delenv("OPENJPKI_DATABASE_URL", raising=False)
        yield


@pytest.fixture(scope="package", autouse=True)
def _card_key_pool():
    """Cards made in this process draw their "new" keys from a pool made once."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.card import rsaops

    pool = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(6)]
    cycle = itertools.cycle(pool)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rsaops, "generate_key", lambda: next(cycle))
        yield


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """``cli(home, "sandbox", "time", "show")``: ``openjpki`` run in this process."""
    from openjpki.cli import main

    def run(home: Path, *args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(["--home", str(home), *args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)
    return run

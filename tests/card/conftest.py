"""Fixtures for the card tests: issued cards copied from one template (key generation is
the slow part), opened in process; and the pcscd/vpcd environment for interop tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openjpki.card import CardStore, VirtualCard

from .cardkit import IssuedCard, make_card

CARD_ID = "TESTCARD1"


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> tuple[Path, IssuedCard]:
    cards = tmp_path_factory.mktemp("template") / "cards"
    issued = make_card(cards, CARD_ID)
    return cards, issued


@pytest.fixture
def issued(template) -> IssuedCard:
    return template[1]


@pytest.fixture
def home(tmp_path, template) -> Path:
    """An OpenJPKI home whose card store holds a fresh copy of the issued test card."""
    h = tmp_path / "home"
    shutil.copytree(template[0], h / "cards")
    return h


@pytest.fixture
def store(home) -> CardStore:
    return CardStore(home / "cards")


@pytest.fixture
def card(store) -> VirtualCard:
    c = store.open(CARD_ID)
    yield c
    c.close()


def openjpki(*args: str, home: Path | None = None, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "openjpki"]
    if home is not None:
        cmd += ["--home", str(home)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120, **kw)


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """Run ``openjpki`` in this process (the same ``main`` as the console script, without
    the interpreter start-up): ``cli("client", "show", home=...)``."""
    from openjpki.cli import main

    def run(*args: str, home: Path | None = None) -> CliResult:
        argv = (["--home", str(home)] if home is not None else []) + list(args)
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)
    return run


# --- PC/SC ------------------------------------------------------------------------------------
def _pcsc_readers() -> list[str]:
    try:
        from smartcard.System import readers
        return [str(r) for r in readers()]
    except Exception:  # noqa: BLE001
        return []


def pcsc_skip_reason() -> str | None:
    names = _pcsc_readers()
    if not any(n.startswith("Virtual PCD 00 00") for n in names):
        why = ("pcscd is not running" if not names and not os.path.exists(
            "/run/pcscd/pcscd.comm") else "pcscd shows no vpcd reader 'Virtual PCD 00 00'")
        return (f"{why}: run the suite with scripts/test, or start it with "
                "`source scripts/services; services_start`")
    return None


def reader0_atr() -> bytes | None:
    from smartcard.System import readers
    try:
        r = [r for r in readers() if str(r).startswith("Virtual PCD 00 00")][0]
        conn = r.createConnection()
        conn.connect()
        try:
            return bytes(conn.getATR())
        finally:
            conn.disconnect()
    except Exception:  # noqa: BLE001
        return None


# The longest the reader may take to show an inserted card before the test fails: a bound
# against a hang, not a delay waited (the wait ends as soon as the card is there).
CARD_APPEARS_WITHIN = 120.0


class InsertedCard:
    """``openjpki card insert`` running against the vpcd reader 0."""

    def __init__(self, home: Path, card_id: str = CARD_ID, *extra: str) -> None:
        self.home, self.card_id = home, card_id
        self.log = home / "insert.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openjpki", "--home", str(home), "card", "insert", card_id,
             *extra], stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

    def wait_present(self, timeout: float = CARD_APPEARS_WITHIN) -> bytes:
        """The ATR once the reader shows the card (its state, not a fixed delay: under load
        the insert process and pcscd's polling of vpcd take what they take); ``timeout``
        only bounds a hang, and a card process that exits ends the wait at once."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"card insert exited: {self.log.read_text()}")
            atr = reader0_atr()
            if atr is not None:
                return atr
            time.sleep(0.1)
        raise RuntimeError(f"the card did not appear in the reader: {self.log.read_text()}")

    def remove(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        end = time.monotonic() + timeout  # let pcscd see the card gone before the next test
        while time.monotonic() < end and reader0_atr() is not None:
            time.sleep(0.1)
        return rc


@pytest.fixture
def pcsc():
    reason = pcsc_skip_reason()
    if reason:
        pytest.skip(reason)
    if reader0_atr() is not None:
        pytest.fail("a card is already in 'Virtual PCD 00 00'; remove it before the tests")


@pytest.fixture
def inserted(pcsc, home) -> InsertedCard:
    c = InsertedCard(home)
    try:
        c.wait_present()
        yield c
    finally:
        c.remove()

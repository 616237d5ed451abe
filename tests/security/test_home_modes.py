"""The home is private: folders 0700, files 0600, whatever the umask of the shell that
started the command; ``init``, ``serve`` and the worker refuse a home or store others can
read, with one line naming the path and the ``chmod`` to run. Read as another user
(``nobody``) where the machine allows it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from openjpki.private_home import private_home_problem
from openjpki.config import Settings

NOBODY = shutil.which("runuser") is not None and os.geteuid() == 0


def cli(home: Path, *args: str, umask: int = 0o022, stdin: str | None = None):
    """``python -m openjpki --home H …`` started from a shell whose umask is ``umask``."""
    return subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), *args],
                          capture_output=True, text=True, input=stdin, timeout=120,
                          preexec_fn=lambda: os.umask(umask))


@pytest.fixture(scope="module")
def open_parent():
    """A folder everyone may enter (like /tmp or /home), so only the home's own modes stand
    between its files and another user."""
    d = Path(tempfile.mkdtemp(prefix="openjpki-modes-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *argv], capture_output=True,
                          text=True, timeout=30)


@pytest.fixture(scope="module")
def made_home(open_parent):
    home = open_parent / "home"
    r = cli(home, "init")
    assert r.returncode == 0, r.stderr
    r = cli(home, "demo")
    assert r.returncode == 0, r.stderr
    return home


def test_every_folder_0700_and_file_0600_under_a_wide_umask(made_home):
    home = made_home
    assert _mode(home) == 0o700
    seen = 0
    for dirpath, dirnames, filenames in os.walk(home):
        for d in dirnames:
            assert _mode(Path(dirpath) / d) == 0o700, Path(dirpath) / d
        for f in filenames:
            assert _mode(Path(dirpath) / f) == 0o600, Path(dirpath) / f
            seen += 1
    assert (home / "openjpki.sqlite3").exists() and (home / "keys" / "counter.key").exists()
    assert seen > 10


def test_wal_shm_and_relying_party_database_take_the_private_mode(made_home):
    """SQLite's -wal and -shm exist while a connection is open; the relying party's own
    database is made on first use (here by this test process, umask 022)."""
    from openjpki.services.relying_party_db import open_database
    from openjpki.store import Store

    old = os.umask(0o022)
    try:
        store = Store.open(f"sqlite:///{made_home / 'openjpki.sqlite3'}")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS modes_probe (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO modes_probe VALUES (1)")
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM modes_probe").fetchall()
            for suffix in ("-wal", "-shm"):
                f = made_home / f"openjpki.sqlite3{suffix}"
                assert f.exists() and _mode(f) == 0o600, f
        store.dispose()
        rp = made_home / "relying-party.sqlite3"
        engine = open_database(f"sqlite:///{rp}")
        engine.dispose()
        assert _mode(rp) == 0o600
    finally:
        os.umask(old)


def test_letters_are_written_for_the_owner_only(open_parent):
    from openjpki.services.letters_pdf import write_pdf

    old = os.umask(0o022)
    try:
        letter = open_parent / "letters-home" / "letters" / "2026-04-02" / "n.pdf"
        write_pdf(letter, b"%PDF-1.4 probe")
    finally:
        os.umask(old)
    assert _mode(letter) == 0o600
    assert _mode(letter.parent) == 0o700 and _mode(letter.parent.parent) == 0o700


@pytest.mark.skipif(not NOBODY, reason="needs root and runuser to try as another user")
def test_another_user_reads_nothing(made_home):
    home = made_home
    for target in (home / "openjpki.sqlite3", home / "keys" / "counter.key",
                   home / "cards" / "store.key", home / "openjpki.toml"):
        r = _as_nobody("cat", str(target))
        assert r.returncode != 0 and r.stdout == "", target
    assert _as_nobody("ls", str(home)).returncode != 0
    # Even with the folder opened by mistake, the files stay closed.
    os.chmod(home, 0o755)
    try:
        for target in (home / "openjpki.sqlite3", home / "keys" / "passphrase"):
            r = _as_nobody("python3", "-c", f"open({str(target)!r},'rb').read()")
            assert r.returncode != 0 and "Permission denied" in r.stderr, target
        r = _as_nobody("python3", "-c", "import sqlite3; sqlite3.connect("
                       f"'file:{home / 'openjpki.sqlite3'}?mode=ro', uri=True)"
                       ".execute('select count(*) from residents').fetchall()")
        assert r.returncode != 0
    finally:
        os.chmod(home, 0o700)


@pytest.mark.parametrize("command", [("init",), ("worker", "--drain")])
def test_open_home_refused_with_the_chmod_to_run(made_home, command):
    home = made_home
    os.chmod(home, 0o750)
    r = cli(home, *command)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"chmod 700 {home}" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    os.chmod(home, 0o700)
    db = home / "openjpki.sqlite3"
    os.chmod(db, 0o644)
    r = cli(home, *command)
    assert r.returncode == 2 and f"chmod 600 {db}" in r.stderr, r.stderr
    os.chmod(db, 0o600)
    key = home / "keys" / "counter.key"
    os.chmod(key, 0o640)
    r = cli(home, *command)
    os.chmod(key, 0o600)
    assert r.returncode == 2 and f"chmod 600 {key}" in r.stderr, r.stderr


def test_serve_refuses_an_open_store(made_home):
    home = made_home
    os.chmod(home / "openjpki.sqlite3", 0o604)
    r = cli(home, "serve", "--port", "0")
    os.chmod(home / "openjpki.sqlite3", 0o600)
    assert r.returncode == 2
    assert f"chmod 600 {home / 'openjpki.sqlite3'}" in r.stderr
    assert "Uvicorn running" not in r.stderr + r.stdout


def test_a_new_home_folder_made_by_hand_is_claimed_by_init(open_parent):
    """``mkdir`` leaves 0755; ``init`` on that empty folder makes it 0700 before anything
    secret goes in (an initialised home is never changed behind its owner's back)."""
    home = open_parent / "fresh"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    r = cli(home, "init")
    assert r.returncode == 0, r.stderr
    assert _mode(home) == 0o700
    assert private_home_problem(Settings.resolve(home)) is None

"""Fixtures for the citizen-side services: a store (SQLite, and PostgreSQL when
$OPENJPKI_TEST_POSTGRES_URL is set) with both authorities and the counter's context, holders
with cards issued at the counter, and a card held in a "reader" (in process, through its
APDU interface)."""

from __future__ import annotations

import itertools
import os
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from openjpki.card import CardStore
from openjpki.rules import JST
from openjpki.rules.calendars import default_calendar
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.counter import CounterContext, SecretBox
from openjpki.store import Store
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

PASSPHRASE = b"citizen-tests-passphrase"
KEY_POOL_SIZE = 6


@pytest.fixture(scope="session")
def _key_pool():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for _ in range(KEY_POOL_SIZE)]


@pytest.fixture(autouse=True)
def _fast_keys(monkeypatch, _key_pool):
    """Test speed only: RSA-2048 generation on the card (~0.3 s a key) would dominate these
    scenarios, so the card draws its "new" keys from a pool made once per session, in turn;
    the card still keeps the key and signs with it on the chip as with a fresh one. CA key
    files (KDF-encrypted) are decrypted once per session."""
    from cryptography.hazmat.primitives import serialization

    from openjpki.card import card as card_module
    from openjpki.card import rsaops
    from openjpki.card import state as card_state
    from openjpki.pki import signer as pki_signer

    pool = itertools.cycle(_key_pool)
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(pool))
    load_der = serialization.load_der_private_key

    class _Serialization:  # the card reloads its (pool) keys without OpenSSL's slow RSA check
        def __getattr__(self, name):
            return getattr(serialization, name)

        @staticmethod
        def load_der_private_key(data, password=None, **kw):
            return load_der(data, password, unsafe_skip_rsa_key_validation=True)
    monkeypatch.setattr(card_module, "serialization", _Serialization())
    # The card's state is written durably (fsync) at every change; its durability is tested
    # with the card. Here the flushes only cost time.
    monkeypatch.setattr(card_state.os, "fsync", lambda fd: None)
    loaded: dict = _fast_keys.__dict__.setdefault("cache", {})
    original = pki_signer.FileSigner.load.__func__

    def load(cls, path, passphrase):
        key = (str(path), passphrase)
        if key not in loaded:
            loaded[key] = original(cls, path, passphrase)
        return loaded[key]
    monkeypatch.setattr(pki_signer.FileSigner, "load", classmethod(load))


@pytest.fixture(scope="session")
def ca_keys(tmp_path_factory) -> Path:
    from openjpki.services.authority_setup import create_or_load_key, key_file_name

    keys = tmp_path_factory.mktemp("ca-keys")
    for kind in ("sign", "auth"):
        create_or_load_key(keys / key_file_name(kind, 1), PASSPHRASE)
    return keys


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return request.param


ROOTS_MADE = datetime(2025, 1, 6, 9, 0, tzinfo=JST)


def _context(store, ca_keys, tmp_path) -> CounterContext:
    initialise(store, ca_keys, PASSPHRASE, now=ROOTS_MADE)
    authority = AuthorityService(store, keys_dir=ca_keys, passphrase=PASSPHRASE)
    return CounterContext(store=store, authority=authority,
                          cards=CardStore(tmp_path / "cards", store_key=os.urandom(32)),
                          box=SecretBox(os.urandom(32)), calendar=default_calendar())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, ca_keys) -> Path:
    """A migrated SQLite store with both authorities, made once and copied for each test
    (migrating and creating the roots is most of a test's set-up time otherwise)."""
    d = tmp_path_factory.mktemp("template-store")
    with open_test_store("sqlite", d) as store:
        initialise(store, ca_keys, PASSPHRASE, now=ROOTS_MADE)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return d / "store.sqlite3"


@contextmanager
def _store(backend: str, tmp_path: Path, template: Path):
    if backend == "sqlite":
        shutil.copyfile(template, tmp_path / "store.sqlite3")
        store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        try:
            yield store
        finally:
            store.dispose()
    else:
        with open_test_store(backend, tmp_path) as store:
            yield store


@pytest.fixture
def ctx(backend, tmp_path, ca_keys, sqlite_template) -> CounterContext:
    with _store(backend, tmp_path, sqlite_template) as store:
        yield _context(store, ca_keys, tmp_path)


@pytest.fixture
def sctx(tmp_path, ca_keys, sqlite_template) -> CounterContext:
    """SQLite only: for scenarios whose SQL is the same on both backends."""
    with _store("sqlite", tmp_path, sqlite_template) as store:
        yield _context(store, ca_keys, tmp_path)


@pytest.fixture
def home(tmp_path, ca_keys, sqlite_template) -> Path:
    """An initialised OpenJPKI home (the template store, the CA keys and their passphrase)."""
    from openjpki.services.authority_setup import PASSPHRASE_FILE

    h = tmp_path / "home"
    (h / "keys").mkdir(parents=True)
    shutil.copyfile(sqlite_template, h / "openjpki.sqlite3")
    for f in ca_keys.iterdir():
        shutil.copyfile(f, h / "keys" / f.name)
    (h / "keys" / PASSPHRASE_FILE).write_text(PASSPHRASE.decode() + "\n")
    return h


@pytest.fixture
def cli(capsys):
    """Run ``openjpki`` in this process: ``cli("--home", h, "notices", "run", ...)`` gives
    (exit status, stdout, stderr)."""
    from openjpki.cli import main

    def run(*args):
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        out = capsys.readouterr()
        return code, out.out, out.err
    return run

"""Fixtures for the counter: a store (SQLite, and PostgreSQL when
$OPENJPKI_TEST_POSTGRES_URL is set) with both authorities, a card store, the counter
context, and helpers to seed residents and look at certificates as relying parties do."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from openjpki.card import CardStore
from openjpki.cli import main
from openjpki.rules.calendars import default_calendar
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.counter import CounterContext, SecretBox
from openjpki.store import Store
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

from .kit import PASSPHRASE, ROOTS_MADE


KEY_POOL_SIZE = 24
_LOADED_CA_KEYS: dict = {}


@pytest.fixture(scope="session")
def _key_pool():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for _ in range(KEY_POOL_SIZE)]


@pytest.fixture(autouse=True)
def _fast_keys(monkeypatch, _key_pool):
    """Test speed only: RSA-2048 generation (~0.3 s here) dominates these scenarios, so the
    card draws its "new" keys from a pool made once per session, in turn (a test uses far
    fewer keys than the pool holds, so keys within one test stay distinct); and the CA key
    files, encrypted with a KDF, are decrypted once per session rather than per test. The card
    still makes, keeps and uses the key exactly as with a fresh one."""
    import itertools

    from openjpki.card import rsaops
    from openjpki.pki import signer as pki_signer

    pool = itertools.cycle(_key_pool)
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(pool))
    loaded = _LOADED_CA_KEYS
    original = pki_signer.FileSigner.load.__func__

    def load(cls, path, passphrase):
        key = (str(path), passphrase)
        if key not in loaded:
            loaded[key] = original(cls, path, passphrase)
        return loaded[key]
    monkeypatch.setattr(pki_signer.FileSigner, "load", classmethod(load))


@pytest.fixture(scope="session")
def ca_keys(tmp_path_factory) -> Path:
    """The two CA key files, made once (RSA key generation is the slow part)."""
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


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory, ca_keys) -> Path:
    """A migrated SQLite store with both authorities, copied for each test (migrating and
    making the roots once instead of per test)."""
    path = tmp_path_factory.mktemp("template") / "store.sqlite3"
    store = Store.open(f"sqlite:///{path}")
    try:
        store.migrate()
        initialise(store, ca_keys, PASSPHRASE, now=ROOTS_MADE)
    finally:
        store.dispose()
    return path


@contextmanager
def _store(backend: str, tmp_path: Path, template: Path, ca_keys: Path) -> Iterator[Store]:
    if backend == "sqlite":
        path = tmp_path / "store.sqlite3"
        shutil.copyfile(template, path)
        store = Store.open(f"sqlite:///{path}")
        try:
            yield store
        finally:
            store.dispose()
        return
    with open_test_store(backend, tmp_path) as store:
        initialise(store, ca_keys, PASSPHRASE, now=ROOTS_MADE)
        yield store


@pytest.fixture
def ctx(backend, tmp_path, ca_keys, _sqlite_template) -> CounterContext:
    with _store(backend, tmp_path, _sqlite_template, ca_keys) as store:
        authority = AuthorityService(store, keys_dir=ca_keys, passphrase=PASSPHRASE)
        c = CounterContext(store=store, authority=authority,
                           cards=CardStore(tmp_path / "cards", store_key=os.urandom(32)),
                           box=SecretBox(os.urandom(32)), calendar=default_calendar())
        yield c


# The CLI tests' homes (test_counter_cli, test_stay_and_fees).
@pytest.fixture
def home(tmp_path, ca_keys, monkeypatch):
    """A home with the session's CA keys (init then only makes the roots)."""
    h = tmp_path / "home"
    shutil.copytree(ca_keys, h / "keys")
    monkeypatch.setenv("OPENJPKI_CA_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.delenv("OPENJPKI_DATABASE_URL", raising=False)
    return h


@pytest.fixture(scope="module")
def initialised(tmp_path_factory, ca_keys):
    """One initialised home, copied by the tests that only need one."""
    import os

    h = tmp_path_factory.mktemp("cli") / "home"
    shutil.copytree(ca_keys, h / "keys")
    old = os.environ.get("OPENJPKI_CA_PASSPHRASE")
    os.environ["OPENJPKI_CA_PASSPHRASE"] = PASSPHRASE.decode()
    try:
        with pytest.raises(SystemExit) as e:
            main(["--home", str(h), "init"])
        assert not e.value.code
    finally:
        if old is None:
            os.environ.pop("OPENJPKI_CA_PASSPHRASE", None)
        else:
            os.environ["OPENJPKI_CA_PASSPHRASE"] = old
    return h


@pytest.fixture
def inited_home(initialised, tmp_path, monkeypatch):
    h = tmp_path / "home"
    shutil.copytree(initialised, h)
    monkeypatch.setenv("OPENJPKI_CA_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.delenv("OPENJPKI_DATABASE_URL", raising=False)
    return h

"""Shared fixtures and helpers for the deferred-work tests (R5.9); no tests here.

Speed only: RSA-2048 generation (~0.2 s a key on a loaded machine) would dominate these
tests, so the cards draw their "new" keys from a pool made once per session, in turn. The
cards still make, keep and use the keys exactly as with fresh ones; certificates, serials and
every record are real.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

import pytest

from openjpki.card import CardStore
from openjpki.rules import JST
from openjpki.rules.calendars import default_calendar
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.counter import (
    CounterContext, PinEntry, ResidentInput, SecretBox, add_resident,
)
from openjpki.services.deferred_health import AuthorityHealth, GuardedAuthority
from openjpki.store import Store
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

PASSPHRASE = b"deferred-tests-passphrase"
T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)  # a Tuesday, city hall open
PINS = PinEntry(card="1234", sign="ABC123", auth="5678")
POOL_SIZE = 16


def make_key_pool(n: int = POOL_SIZE) -> list:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(n)]


@pytest.fixture(scope="session")
def key_pool():
    return make_key_pool()


@pytest.fixture
def fast_keys(monkeypatch, key_pool):
    from openjpki.card import rsaops

    pool = itertools.cycle(key_pool)
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(pool))


@pytest.fixture(scope="session")
def ca_keys(tmp_path_factory) -> Path:
    from openjpki.services.authority_setup import create_or_load_key, key_file_name

    keys = tmp_path_factory.mktemp("deferred-ca-keys")
    for kind in ("sign", "auth"):
        create_or_load_key(keys / key_file_name(kind, 1), PASSPHRASE)
    return keys


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return request.param


@contextmanager
def fast_dir(tmp_path: Path, name: str) -> Iterator[Path]:
    """A directory on tmpfs when there is one (speed only: the card store fsyncs every
    command, which costs ~6 ms a time on a disk and nothing on tmpfs)."""
    base = Path("/dev/shm")
    if base.is_dir() and os.access(base, os.W_OK):
        d = Path(tempfile.mkdtemp(prefix=f"openjpki-{name}-", dir=base))
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path / name


@contextmanager
def counter(backend: str, tmp_path: Path, ca_keys: Path, *, cards_dir: Path | None = None,
            store_key: bytes | None = None, box_key: bytes | None = None, **health_options) -> Iterator[tuple[CounterContext, AuthorityHealth]]:
    """A counter on a fresh store with both authorities, behind an availability guard."""
    with _store(backend, tmp_path) as store, fast_dir(tmp_path, "cards") as fast_cards:
        initialise(store, ca_keys, PASSPHRASE, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
        service = AuthorityService(store, keys_dir=ca_keys, passphrase=PASSPHRASE)
        health = AuthorityHealth(store, switch_ttl=0.0, **health_options)
        ctx = CounterContext(store=store, authority=GuardedAuthority(service, health),
                             cards=CardStore(cards_dir or fast_cards,
                                             store_key=store_key or os.urandom(32)),
                             box=SecretBox(box_key or os.urandom(32)),
                             calendar=default_calendar())
        yield ctx, health


_TEMPLATE: dict[str, Path] = {}


@contextmanager
def _store(backend: str, tmp_path: Path) -> Iterator[Store]:
    """A migrated store. On SQLite a copy of one migrated once per session (speed only:
    running every migration costs about a second a test)."""
    if backend != "sqlite":
        with open_test_store(backend, tmp_path) as store:
            yield store
        return
    if "sqlite" not in _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="openjpki-template-")) / "store.sqlite3"
        template = Store.open(f"sqlite:///{path}")
        template.migrate()
        with template.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        template.dispose()
        _TEMPLATE["sqlite"] = path
    target = tmp_path / "store.sqlite3"
    shutil.copyfile(_TEMPLATE["sqlite"], target)
    store = Store.open(f"sqlite:///{target}")
    try:
        yield store
    finally:
        store.dispose()


def person(ctx, name="山田　太郎", birth=date(1980, 5, 15), sex="male",
           address="埼玉県川口市青木二丁目1番1号", now=T0, **kw) -> int:
    return add_resident(ctx, ResidentInput(name=name, address=address, birth_date=birth,
                                           sex=sex, **kw), now)["id"]

"""Fixtures for the counter: a store (SQLite, and PostgreSQL when
$OPENJPKI_TEST_POSTGRES_URL is set) with both authorities, a card store, the counter
context, and helpers to seed residents and look at certificates as relying parties do."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from openjpki.card import CardStore
from openjpki.rules import JST
from openjpki.rules.calendars import default_calendar
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.counter import CounterContext, SecretBox
from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

PASSPHRASE = b"counter-tests-passphrase"


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


@pytest.fixture
def ctx(backend, tmp_path, ca_keys) -> CounterContext:
    with open_test_store(backend, tmp_path) as store:
        initialise(store, ca_keys, PASSPHRASE, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
        authority = AuthorityService(store, keys_dir=ca_keys, passphrase=PASSPHRASE)
        c = CounterContext(store=store, authority=authority,
                           cards=CardStore(tmp_path / "cards", store_key=os.urandom(32)),
                           box=SecretBox(os.urandom(32)), calendar=default_calendar())
        yield c

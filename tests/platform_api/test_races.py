"""The platform's limits under parallel requests, on SQLite and on PostgreSQL: one signed
nonce is accepted once however many requests race with it; one holder is registered once
per provider however many registrations race; a never-seen AUTH certificate is linked once."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openjpki.config import Settings
from openjpki.services.authority_home import initialise_home, open_authorities
from openjpki.services.platform import Call, open_platform
from openjpki.store.platform import PlatformCertificate, PlatformNonce, PlatformRegistration
from openjpki.store.testing import POSTGRES_SKIP_REASON, postgres_schema_url, postgres_url

from rp.conftest import AT, FACTS, NOW
from rp.homekit import Home

from .kit import check_answer, signed

CLIENTS = 12


@pytest.fixture
def platform_home(backend, tmp_path):
    def make(url):
        settings = Settings.resolve(tmp_path / "home", url)
        initialise_home(settings, now=NOW - timedelta(days=400))
        service = open_authorities(settings)
        return Home(settings, service), open_platform(service, settings.keys_dir, sandbox=True)

    if backend == "postgres":
        if postgres_url() is None:
            pytest.skip(POSTGRES_SKIP_REASON)
        with postgres_schema_url(postgres_url()) as url:
            home, platform = make(url)
            yield home, platform
            home.service.store.dispose()
    else:
        home, platform = make(None)
        yield home, platform
        home.service.store.dispose()


def _race(platform, call: Call, bodies: list[dict]) -> list[int]:
    def one(body):
        answer = platform.handle(call, json.dumps(body).encode(), AT)
        check_answer(call.value, answer.status, answer.body, body)
        return answer.status

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, bodies))


def _count(home, model, *where) -> int:
    with home.service.store.sessions() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_one_signed_nonce_races_and_wins_once(platform_home, keys_pair):
    home, platform = platform_home
    sign_key, auth_key = keys_pair
    rid = f"race-{uuid.uuid4().hex[:6]}"
    sign = home.issue("sign", sign_key, facts=FACTS, resident_id=rid)
    auth = home.issue("auth", auth_key, resident_id=rid)
    assert _race(platform, Call.REGISTRATION, [signed("registration", "SP", sign, sign_key)]) == [200]
    login = signed("login", "SP", auth, auth_key)
    statuses = _race(platform, Call.LOGIN, [login] * CLIENTS)
    assert sorted(statuses) == [200] + [401] * (CLIENTS - 1)
    assert _count(home, PlatformNonce, PlatformNonce.call == "login") == 1


def test_one_holder_races_to_register_and_is_registered_once(platform_home, keys_pair):
    home, platform = platform_home
    sign_key, auth_key = keys_pair
    rid = f"dup-{uuid.uuid4().hex[:6]}"
    sign = home.issue("sign", sign_key, facts=FACTS, resident_id=rid)
    auth = home.issue("auth", auth_key, resident_id=rid)
    bodies = [signed("registration", "SP", sign, sign_key) for _ in range(CLIENTS)]
    statuses = _race(platform, Call.REGISTRATION, bodies)
    assert sorted(statuses) == [200] + [409] * (CLIENTS - 1)
    assert _count(home, PlatformRegistration) == 1
    # parallel first log-ins with the never-seen AUTH certificate: all in, one link
    statuses = _race(platform, Call.LOGIN, [signed("login", "SP", auth, auth_key) for _ in range(CLIENTS)])
    assert statuses == [200] * CLIENTS
    assert _count(home, PlatformCertificate, PlatformCertificate.kind == "auth") == 1


@pytest.fixture(scope="module")
def keys_pair():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))



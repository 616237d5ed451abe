"""Fixtures of the platform API tests: a home (both authorities, SQLite), the app on an
injected clock, and holders with a SIGN and an AUTH certificate linked by the store."""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from openjpki.web import create_app

from rp.conftest import AT, FACTS
from rp.homekit import make_home
from .kit import PATHS, check_answer

_keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]
_residents = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.now = AT

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return make_home(tmp_path_factory.mktemp("platform-home"))


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(autouse=True)
def _reset(clock):
    clock.now = AT
    yield
    clock.now = AT


@pytest.fixture(scope="module")
def client(home, clock):
    with TestClient(create_app(home.settings, clock=clock)) as c:
        yield c


@pytest.fixture(scope="module")
def jwk(client):
    r = client.get("/key/jwks.json")
    assert r.status_code == 200
    return r.json()["keys"][0]


@pytest.fixture
def holder(home):
    """A resident with a SIGN and an AUTH certificate (the store links them by resident)."""
    rid = f"p{next(_residents)}"
    sign_key, auth_key = _keys[0], _keys[1]
    return dict(resident=rid, sign=home.issue("sign", sign_key, facts=FACTS, resident_id=rid),
                auth=home.issue("auth", auth_key, resident_id=rid), sign_key=sign_key, auth_key=auth_key)


@pytest.fixture
def other_key():
    return _keys[2]


@pytest.fixture
def call(client):
    """call(name, body) -> (status, answer), the answer checked against the contract."""

    def _call(name: str, request, *, raw: bytes | None = None):
        if raw is not None:
            r = client.post(PATHS[name], content=raw, headers={"Content-Type": "application/json"})
        else:
            r = client.post(PATHS[name], json=request)
        assert r.headers["content-type"].startswith("application/json")
        return r.status_code, check_answer(name, r.status_code, r.json(), request if raw is None else None)

    return _call

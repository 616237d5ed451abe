"""An initialised home, an app with an injected clock, and (see live_helpers) a live server
on a free loopback port for the tools we did not write (openssl, pyhanko-certvalidator)."""

import pytest
from fastapi.testclient import TestClient

from live_helpers import Clock, make_home
from openjpki.services.authority_home import open_authorities
from openjpki.web import create_app


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def home(tmp_path, monkeypatch, clock):
    return make_home(tmp_path, monkeypatch, clock)


@pytest.fixture
def authority(home):
    service = open_authorities(home[0])
    yield service
    service.store.dispose()


@pytest.fixture
def client(home, clock):
    app = create_app(home[0], clock=clock, sync_interval=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c



"""What `create_app` serves out of the box: every part's paths answer (CLI.md), none is a 404."""

import pytest
from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.web import create_app


@pytest.mark.parametrize("method,path", [
    ("GET", "/counter"), ("GET", "/kiosk"), ("GET", "/portal"),
    ("GET", "/rp/sample"), ("POST", "/api/rp/challenges"),
    ("GET", "/crl/sign.crl"), ("GET", "/healthz"), ("GET", "/openapi.json"),
])
def test_app_serves_every_part(tmp_path, method, path):
    with TestClient(create_app(Settings.resolve(home=tmp_path)), follow_redirects=False) as c:
        r = c.request(method, path)
    assert r.status_code != 404, (path, r.status_code, r.text[:200])
    assert r.status_code < 500 or r.status_code == 503, (path, r.status_code, r.text[:200])

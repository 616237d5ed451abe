"""Any JSON body to any ``/api`` path (walked from the app's own OpenAPI description) is
answered 2xx, or 4xx as a problem response — never a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.security.serve_app_kit import sandbox_client

pytestmark = pytest.mark.slow

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                    st.floats(allow_nan=False), st.text(max_size=40),
                    st.sampled_from(["sign", "auth", "holder", "1", "2030-04-02", "90d",
                                     "99999999999d", "\u202e", "", "male", "tryLater"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=12)
PATH_VALUES = st.sampled_from(["1", "0", "-1", "99999999999999999999", "x", "mnc-000000000001",
                               "sign", "auth", "%00", "1e3"])


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    client = sandbox_client(tmp_path_factory.mktemp("fuzz") / "home")
    spec = client.get("/openapi.json").json()
    operations = [(method.upper(), path) for path, item in sorted(spec["paths"].items())
                  if path.startswith("/api") for method in item
                  if method in ("get", "post", "put", "delete", "patch")]
    assert len(operations) > 30
    return client, operations


def _fill(path: str, value: str) -> str:
    out, rest = "", path
    while "{" in rest:
        head, _, tail = rest.partition("{")
        _, _, rest = tail.partition("}")
        out += head + value
    return out + rest


def _check(r, what) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:500])
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), (what, r.text)
        assert r.json()["status"] == r.status_code


def test_every_api_operation_answers_without_a_5xx(app_client):
    client, operations = app_client

    @hsettings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(operations), JSON, PATH_VALUES, st.booleans())
    def one(operation, body, path_value, raw_duplicate):
        method, path = operation
        url = _fill(path, path_value)
        content = json.dumps(body).encode()
        if raw_duplicate and isinstance(body, dict) and body:
            key = json.dumps(next(iter(body)))
            content = content[:-1] + b", " + key.encode() + b": 1}"
        r = client.request(method, url, content=content,
                           headers={"content-type": "application/json"})
        _check(r, (method, url, content[:200]))
    one()


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b"1e999",
                                     b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000])
def test_malformed_bodies_everywhere(app_client, content):
    client, operations = app_client
    for method, path in operations:
        if method in ("POST", "PUT"):
            url = _fill(path, "1")
            _check(client.request(method, url, content=content,
                                  headers={"content-type": "application/json"}), (method, url))

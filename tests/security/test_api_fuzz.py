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
# Values that have broken servers: numbers past 32 and 64 bits, durations and dates past
# what a clock holds, coerced types, invisible and bidirectional text.
ADVERSARIAL_VALUES = [10 ** 30, 2 ** 63, 2 ** 31, -1, 0, True, "1", 1.5, 1e308,
                               "99999999999d", "1e9w", "9999-12-31", "99999-01-01",
                               "0000-00-00", "\u202e", "\u200b", "\ufeff", "\uffff", "",
                               [], {}, None]
ADVERSARIAL = st.sampled_from(ADVERSARIAL_VALUES)
PATH_VALUES = st.sampled_from(["1", "0", "-1", "99999999999999999999", "x", "mnc-000000000001",
                               "sign", "auth", "%00", "1e3"])


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    client = sandbox_client(tmp_path_factory.mktemp("fuzz") / "home")
    spec = client.get("/openapi.json").json()
    operations = [(method.upper(), path, _members(spec, op))
                  for path, item in sorted(spec["paths"].items()) if path.startswith("/api")
                  for method, op in item.items()
                  if method in ("get", "post", "put", "delete", "patch")]
    assert len(operations) > 30
    return client, operations


def _members(spec: dict, op: dict) -> tuple[str, ...]:
    """The member names of an operation's JSON body (so bodies are near misses, not noise)."""
    schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {})
              .get("schema", {}))
    seen: set[str] = set()
    stack = [schema]
    while stack:
        s = stack.pop()
        if "$ref" in s:
            s = spec["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
        for name, sub in s.get("properties", {}).items():
            seen.add(name)
            stack.append(sub)
        stack.extend(s.get("anyOf", []) + s.get("allOf", []))
        if "items" in s:
            stack.append(s["items"])
    return tuple(sorted(seen))


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

    @hsettings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def every_operation(data):
        for method, path, members in operations:  # each example tries every operation
            url = _fill(path, data.draw(PATH_VALUES))
            if members and data.draw(st.booleans()):  # near misses: the documented names
                value = st.one_of(ADVERSARIAL, JSON)
                body = data.draw(st.dictionaries(st.sampled_from(members), value, max_size=6))
            else:
                body = data.draw(JSON)
            content = json.dumps(body).encode()
            if isinstance(body, dict) and body and data.draw(st.booleans()):
                key = json.dumps(next(iter(body)))
                content = content[:-1] + b", " + key.encode() + b": 1}"
            r = client.request(method, url, content=content,
                               headers={"content-type": "application/json"})
            _check(r, (method, url, content[:200]))
    every_operation()


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b"1e999",
                                     b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000])
def test_malformed_bodies_everywhere(app_client, content):
    client, operations = app_client
    for method, path, _members_ in operations:
        if method in ("POST", "PUT"):
            url = _fill(path, "1")
            _check(client.request(method, url, content=content,
                                  headers={"content-type": "application/json"}), (method, url))


def test_every_documented_member_with_every_hostile_value(app_client):
    """The sweep that random bodies may miss: each member of each body alone, with each of
    the values that have broken servers (e.g. ``{"by": "99999999999d"}``)."""
    client, operations = app_client
    tried = 0
    for method, path, members in operations:
        url = _fill(path, "1")
        for member in members:
            for value in ADVERSARIAL_VALUES:
                r = client.request(method, url, json={member: value})
                _check(r, (method, url, member, value))
                tried += 1
    assert tried > 500

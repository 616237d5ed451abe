"""What reaches the platform's paths without being one of its calls is answered in the
contract's shape too, with a status of its table: a body over the server's limit, a bad
Content-Length or a member named twice (the body limit's layer, before the body is read),
another method than POST on a call's path (400, no 405), a path under /verify/ naming no call
(404) — never a problem response the caller's strict mapper cannot read."""

from __future__ import annotations

import pytest

from .kit import PATHS, check_answer

MB = 1024 * 1024


def _shaped(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"responseInfo", "status"}
    assert body["status"]["status"] == "FAILED"
    assert body["status"]["errorInfo"]["reason"].startswith(str(status))
    assert body["responseInfo"]["sender"] == "JPKI"
    return body


@pytest.mark.parametrize("name", sorted(PATHS))
def test_a_body_over_the_servers_limit_is_400_in_shape(client, name):
    r = client.post(PATHS[name], content=b"{" + b" " * (MB + 10) + b"}",
                    headers={"Content-Type": "application/json"})
    check_answer(name, 400, _shaped(r, 400))
    assert "larger than" in r.json()["status"]["errorInfo"]["message"]
    assert r.headers["connection"] == "close"


def test_a_chunked_body_over_the_limit_is_400_in_shape(client):
    def chunks():
        for _ in range(20):
            yield b" " * (128 * 1024)
    r = client.post(PATHS["login"], content=chunks(), headers={"Content-Type": "application/json"})
    check_answer("login", 400, _shaped(r, 400))


def test_the_limit_stays_a_problem_response_elsewhere(client):
    r = client.post("/api/rp/challenges", content=b" " * (MB + 1),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_member_named_twice_is_400_in_shape(client):
    raw = b'{"requestInfo": {}, "nonceData": "a", "nonceData": "b"}'
    r = client.post(PATHS["login"], content=raw, headers={"Content-Type": "application/json"})
    body = check_answer("login", 400, _shaped(r, 400))
    assert "nonceData" in body["status"]["errorInfo"]["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("name", sorted(PATHS))
def test_another_method_on_a_call_is_400_in_shape(client, name, method):
    r = client.request(method, PATHS[name])
    check_answer(name, 400, _shaped(r, 400))
    assert r.headers["allow"] == "POST"
    assert method in r.json()["status"]["errorInfo"]["message"]


def test_head_on_a_call_is_400_without_a_body(client):
    r = client.head(PATHS["login"])
    assert r.status_code == 400 and r.content == b""


@pytest.mark.parametrize("path", ["/verify/", "/verify/logout", "/verify/login/", "/verify/login/extra",
                                  "/verify/registration2", "/verify/%E3%81%82"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_path_naming_no_call_is_404_in_shape(client, path, method):
    r = client.request(method, path, json={"requestInfo": {}})
    body = _shaped(r, 404)
    assert "/verify/login" in body["status"]["errorInfo"]["message"]


def test_the_calls_themselves_still_answer(call):
    status, _answer = call("login", None, raw=b"{}")
    assert status == 400


def test_the_calls_skip_the_router_and_answer_the_same_through_it(home, clock, holder):
    """openjpki serve answers the three calls directly (no routing, no middleware); an app
    without those direct routes answers them through FastAPI's router with the same answers."""
    from fastapi.testclient import TestClient

    from openjpki.web import create_app

    from .kit import signed

    app = create_app(home.settings, clock=clock)
    assert sorted(path for _m, path in app.direct_routes) == sorted(PATHS.values())
    with TestClient(app) as direct:
        first = direct.post(PATHS["registration"], json=signed("registration", "SP-direct", holder["sign"],
                                                               holder["sign_key"]))
        check_answer("registration", first.status_code, first.json())
        assert first.status_code == 200
    app.direct_routes.clear()
    with TestClient(app) as routed:
        again = routed.post(PATHS["registration"], json=signed("registration", "SP-direct", holder["sign"],
                                                               holder["sign_key"]))
        assert again.status_code == 409  # the same store, answered through the router
        check_answer("registration", 409, again.json())
        big = routed.post(PATHS["login"], content=b" " * (300 * 1024), headers={"Content-Type": "application/json"})
        check_answer("login", 400, _shaped(big, 400))

"""/healthz for a load balancer: the node's name, the store and the key store reachable now,
and a 503 problem (with the node's name) when a key cannot be used."""

from fastapi.testclient import TestClient

from openjpki.config import NODE_ENV
from openjpki.web import create_app

PROBLEM = "application/problem+json"


def test_healthz_names_the_node_and_its_stores(client, monkeypatch):
    monkeypatch.setenv(NODE_ENV, "node-a")
    body = client.get("/healthz").json()
    assert body["node"] == "node-a" and body["store"] == "reachable"
    assert body["key_store"] == {"kind": "file"}


def test_node_name_from_the_config_file_else_the_host(home, clock, monkeypatch):
    import socket

    settings = home[0]
    monkeypatch.delenv(NODE_ENV, raising=False)
    with TestClient(create_app(settings, clock=clock)) as c:
        assert c.get("/healthz").json()["node"] == socket.gethostname()
    with open(settings.config_file, "a", encoding="utf-8") as fh:
        fh.write('\n[service]\nnode = "tokyo-2"\n')
    with TestClient(create_app(settings, clock=clock)) as c:
        assert c.get("/healthz").json()["node"] == "tokyo-2"


def test_a_missing_key_makes_the_node_unhealthy(home, clock, monkeypatch):
    settings = home[0]
    monkeypatch.setenv(NODE_ENV, "node-b")
    from openjpki.services.authority_setup import _loaded

    _loaded.clear()  # the process remembers decrypted keys; this node has just lost its file
    (settings.keys_dir / "auth-1.key").unlink()
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["node"] == "node-b" and body["store"] == "reachable"
    assert "auth-1.key" in body["detail"] and "BEGIN" not in r.text


def test_an_unreachable_token_makes_the_node_unhealthy(home, clock, monkeypatch):
    """A home whose key store names a PKCS#11 module that is not there (a node whose HSM
    client library or network HSM went away): 503, never a traceback."""
    settings = home[0]
    monkeypatch.setenv(NODE_ENV, "node-c")
    from sqlalchemy import update

    from openjpki.store import Authority, Store

    store = Store.open(settings.effective_database_url)
    with store.transaction() as s:
        s.execute(update(Authority).where(Authority.kind == "sign").values(
            key_file="pkcs11:token=gone;object=openjpki-sign-1;id=%01%02"))
    store.dispose()
    with open(settings.config_file, "a", encoding="utf-8") as fh:
        fh.write('\n')
    text = settings.config_file.read_text().replace(
        'key_store = "file"', 'key_store = "pkcs11"\npkcs11_module = "/nonexistent/libhsm.so"\n'
        'pkcs11_token = "gone"')
    settings.config_file.write_text(text)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM, r.text
    assert r.json()["node"] == "node-c" and "libhsm.so" in r.json()["detail"]

"""Clerks' API tokens on the JSON API (services.api_access, web.api.auth), over HTTP on a real
home (SQLite), in every mode a server can run in:

- production (``$OPENJPKI_SERVICE_MODE``, as ``serve --production`` tells its workers; and
  ``serve_app(production=True)``, as ``serve --production`` builds its one process), and the
  sandbox with ``[api] require_token = true``: 401 problem with ``WWW-Authenticate: Bearer``
  without a working token, 200 with one;
- the open sandbox: no token needed, but a token sent is used (its clerk recorded, its role
  deciding) and a bad one refused;

in all of them: revoked, expired, disabled or locked → 401 ``invalid_token``; an action kept
for a supervisor (R4.3 revocation on someone else's request, R5.9 requeue and the
availability switch) → 403 for a clerk's token; the audit log names the token's clerk;
``/api/rp/…`` keeps its own model; tokens never reach the logs; the bearer scheme is in
/openapi.json.

Speed only: the cards draw their "new" RSA keys from a pool made once for the module, and
the CA keys are made once per process (authority_testing.seed_ca_keys).
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.rules import JST
from openjpki.services import clerks as C
from openjpki.services.authority_home import initialise_home
from openjpki.services.clerk_tokens import create_token, revoke_token
from openjpki.services.sandbox_mode import MODE_ENV
from openjpki.store import Store
from openjpki.web import create_app
from openjpki.web.api import api_extension

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)  # a Tuesday morning: city hall is open
PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}
PROBLEM = "application/problem+json"
CHALLENGE = 'Bearer realm="openjpki"'
CLOSED_MODES = ["production", "serve-production", "sandbox-require-token"]
_names = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.card import rsaops
    from openjpki.services.authority_setup import PASSPHRASE_ENV
    from openjpki.services.authority_testing import PASSPHRASE, seed_ca_keys

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]
    pool = itertools.cycle(keys)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rsaops, "generate_key", lambda: next(pool))
        mp.delenv(MODE_ENV, raising=False)
        mp.delenv("OPENJPKI_DATABASE_URL", raising=False)
        mp.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
        settings = Settings.resolve(tmp_path_factory.mktemp("api-auth-home"))
        seed_ca_keys(settings.keys_dir)
        initialise_home(settings, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
        yield settings


@pytest.fixture(scope="module")
def store(home):
    s = Store.open(home.effective_database_url)
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(autouse=True)
def _reset_clock(clock):
    clock.now = T0


def token_of(store, role: str = "clerk", **kw) -> tuple[str, str]:
    """A new clerk of ``role`` and a token of theirs: (name, token)."""
    name = f"{role}{next(_names)}"
    C.add_clerk(store, name, "a-long-enough-password", role=role, now=T0)
    return name, create_token(store, name, now=T0, **kw).token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_client(home, clock, monkeypatch):
    """``make_client(mode)``: a client of a fresh app in that mode (the mode is decided on the
    app's first request)."""
    config = home.config_file
    original = config.read_text(encoding="utf-8")
    apps = []

    def make(mode: str) -> TestClient:
        monkeypatch.delenv(MODE_ENV, raising=False)
        config.write_text(original, encoding="utf-8")
        if mode == "production":
            monkeypatch.setenv(MODE_ENV, "production")
        elif mode == "sandbox-require-token":
            config.write_text(original + "\n[api]\nrequire_token = true\n", encoding="utf-8")
        elif mode == "bad-config":
            config.write_text(original + '\n[api]\nrequire_token = "yes"\n', encoding="utf-8")
        if mode == "serve-production":
            from openjpki.web.serving import serve_app

            app = serve_app(home, production=True)
            app.state.openjpki.clock = clock  # as create_app(clock=…) injects it
        elif mode == "serve-sandbox":  # the sandbox's movable clock over the wall clock
            from openjpki.web.serving import serve_app

            app = serve_app(home)
        else:
            assert mode in ("production", "sandbox", "sandbox-require-token", "bad-config")
            app = create_app(home, clock=clock, sync_interval=0.0, extensions=[api_extension])
        apps.append(app)
        return TestClient(app, raise_server_exceptions=False)

    yield make
    config.write_text(original, encoding="utf-8")
    for app in apps:
        app.state.openjpki.close()


def assert_401(r, *, error: str | None = None, why: str | None = None) -> dict:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    challenge = r.headers["www-authenticate"]
    if error is None:
        assert challenge == CHALLENGE
    else:
        assert challenge.startswith(f'{CHALLENGE}, error="{error}", error_description="')
    body = r.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthorized")
    assert body["title"] == "Unauthorized" and body["message_ja"] and body["message_en"]
    assert body["instance"] == r.request.url.path
    if why is not None:
        assert why in body["detail"] and why in challenge
    return body


def assert_403(r, action: str) -> dict:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    body = r.json()
    assert body["type"].endswith("/forbidden") and body["status"] == 403
    assert body["action"] == action and body["role"] == "clerk"
    assert "監督者" in body["message_ja"] and "supervisor" in body["message_en"]
    return body


def new_resident(client, headers=None, **kw) -> int:
    body = {"name": f"試験　{next(_names)}", "address": "埼玉県川口市青木二丁目1番1号",
            "birth_date": "1980-05-15", "sex": "male", **kw}
    r = client.post("/api/residents", json=body, headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()["id"]


# --- where a token is needed ------------------------------------------------------------------

READS = ["/api/residents", "/api/deferred", "/api/authorities/availability",
         "/api/certificates", "/api/letters", "/api/audit/verify"]


@pytest.mark.parametrize("mode", CLOSED_MODES)
def test_closed_modes_answer_401_without_a_token_and_200_with_one(make_client, store, mode):
    client = make_client(mode)
    _, token = token_of(store)
    for path in READS:
        assert_401(client.get(path))
        assert client.get(path, headers=bearer(token)).status_code == 200, path
    # Writes too, and the token check comes before the body's (401, not 422).
    assert_401(client.post("/api/residents", json={"nonsense": True}))
    assert_401(client.post("/api/counter/issuance", json={}))
    assert_401(client.post("/api/deferred/1/requeue"))
    # Another scheme is no token (RFC 6750 §3.1: no error code); a bad bearer token is one.
    assert_401(client.get("/api/residents", headers={"Authorization": "Basic dTpw"}))
    assert_401(client.get("/api/residents", headers={"Authorization": "Bearer"}))
    assert_401(client.get("/api/residents", headers=bearer("ojpk_" + "A" * 43)),
               error="invalid_token", why="not known")
    assert_401(client.get("/api/residents", headers=bearer("not-ours")),
               error="invalid_token", why="not an OpenJPKI API token")
    new_resident(client, bearer(token))


def test_the_open_sandbox_takes_requests_without_a_token(make_client, store):
    client = make_client("sandbox")
    for path in READS:
        assert client.get(path).status_code == 200, path
    rid = new_resident(client)
    # An Authorization header of another scheme (a proxy's) is not a bearer token: ignored.
    assert client.get(f"/api/residents/{rid}",
                      headers={"Authorization": "Basic dTpw"}).status_code == 200
    audit = client.get(f"/api/residents/{rid}/audit").json()
    assert audit[0]["action"] == "register.add" and audit[0]["actor"] == "api"


@pytest.mark.parametrize("mode", ["sandbox", *CLOSED_MODES])
def test_a_token_that_does_not_work_is_refused_in_every_mode(make_client, store, clock, mode):
    """Revoked, expired, or its clerk disabled or locked: 401 invalid_token — also on an
    open sandbox, where a token sent is a token checked."""
    from openjpki.services.clerk_tokens import list_tokens

    client = make_client(mode)
    now = clock.now
    name, token = token_of(store)
    assert client.get("/api/residents", headers=bearer(token)).status_code == 200

    other, revoked = token_of(store)
    revoke_token(store, list_tokens(store, other)[0].id, now=now)
    assert_401(client.get("/api/residents", headers=bearer(revoked)),
               error="invalid_token", why="revoked")

    C.update_clerk(store, name, active=False, now=now)
    assert_401(client.get("/api/residents", headers=bearer(token)),
               error="invalid_token", why="disabled")
    C.update_clerk(store, name, active=True, now=now)
    assert client.get("/api/residents", headers=bearer(token)).status_code == 200

    for i in range(C.LOCK_AFTER):  # wrong passwords on the pages hold the sign-in ...
        C.sign_in(store, name, f"wrong-password-{i}", now=now)
    assert isinstance(C.sign_in(store, name, "a-long-enough-password", now=now), C.SignInRefused)
    # ... but never the clerk's API tokens: anyone can type wrong passwords.
    assert client.get("/api/residents", headers=bearer(token)).status_code == 200

    clock.now = now + C.LOCK_FOR
    assert client.get("/api/residents", headers=bearer(token)).status_code == 200
    _, short = token_of(store, expires_days=1)
    assert client.get("/api/residents", headers=bearer(short)).status_code == 200
    clock.now = T0 + timedelta(days=1)
    assert_401(client.get("/api/residents", headers=bearer(short)),
               error="invalid_token", why="expired")


# --- what a role may do ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sandbox", "production"])
def test_R4_3_R5_9_a_clerk_token_is_refused_what_is_kept_for_a_supervisor(make_client, store,
                                                                          mode):
    client = make_client(mode)
    _, clerk = token_of(store, "clerk")
    _, boss = token_of(store, "supervisor")
    switch = {"available": True, "reason": "maintenance over"}
    assert_403(client.put("/api/authorities/availability", json=switch, headers=bearer(clerk)),
               "switch_availability")
    r = client.put("/api/authorities/availability", json=switch, headers=bearer(boss))
    assert r.status_code == 200 and r.json()["available"] is True
    assert_403(client.post("/api/deferred/999999/requeue", headers=bearer(clerk)),
               "requeue_deferred")
    assert client.post("/api/deferred/999999/requeue",
                       headers=bearer(boss)).status_code == 404  # past the role: no item

    rid = new_resident(client, bearer(clerk))
    head = new_resident(client, bearer(clerk))
    for procedure in ("revocation", "hold"):  # R4.3: on someone else's request
        body = {"resident_id": rid, "kinds": ["auth"], "applicant": {
            "type": "legal_representative", "representative_id": head}}
        forbidden = assert_403(client.post(f"/api/counter/{procedure}", json=body,
                                           headers=bearer(clerk)), procedure)
        assert "本人以外" in forbidden["message_ja"]
        r = client.post(f"/api/counter/{procedure}", json=body, headers=bearer(boss))
        assert r.status_code not in (401, 403), r.text  # the rules decide from here
        assert r.json().get("rule"), r.text
    # On the holder's own request a clerk may.
    r = client.post("/api/counter/issuance", json={"resident_id": rid, "pins": PINS},
                    headers=bearer(clerk))
    assert r.status_code == 200, r.text
    r = client.post("/api/counter/revocation", json={"resident_id": rid, "kinds": ["auth"]},
                    headers=bearer(clerk))
    assert r.status_code == 200 and r.json()["outcome"] == "completed", r.text


def test_the_audit_log_names_the_tokens_clerk(make_client, store):
    from openjpki.services.audit import trail

    client = make_client("production")
    name, token = token_of(store)
    boss, boss_token = token_of(store, "supervisor")
    rid = new_resident(client, bearer(token))
    r = client.post("/api/counter/issuance", json={"resident_id": rid, "pins": PINS},
                    headers=bearer(token))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/residents/{rid}/events/move",
                    json={"address": "埼玉県川口市栄町三丁目3番3号"}, headers=bearer(token))
    assert r.status_code == 200, r.text
    audit = client.get(f"/api/residents/{rid}/audit", headers=bearer(token)).json()
    actors = {e["action"]: e["actor"] for e in audit}
    assert actors["register.add"] == f"clerk:{name}"
    assert actors["counter.new_issuance.completed"] == f"clerk:{name}"
    assert actors["register.move"] == f"clerk:{name}"
    assert client.put("/api/authorities/availability", json={"available": True},
                      headers=bearer(boss_token)).status_code == 200
    with store.sessions() as s:
        switched = trail(s, "authorities")
    assert switched[-1]["actor"] == f"clerk:{boss}"


def test_moving_the_sandbox_clock_does_not_expire_tokens(make_client, store):
    """Expiry protects access: it is decided on real time, never on the sandbox's clock
    (which the procedures follow)."""
    client = make_client("serve-sandbox")
    real = datetime.now(timezone.utc)
    name = f"clerk{next(_names)}"
    C.add_clerk(store, name, "a-long-enough-password", now=real)
    token = create_token(store, name, now=real, expires_days=1).token
    later = (real + timedelta(days=400)).astimezone(JST).replace(microsecond=0)
    r = client.put("/api/sandbox/time", json={"now": later.isoformat()})
    assert r.status_code == 200, r.text
    try:
        moved = datetime.fromisoformat(client.get("/api/sandbox/time").json()["now"])
        assert moved >= later
        assert client.get("/api/residents", headers=bearer(token)).status_code == 200
    finally:
        assert client.delete("/api/sandbox/time").status_code == 200


# --- around the API ---------------------------------------------------------------------------

def test_the_relying_partys_paths_keep_their_own_model(make_client):
    client = make_client("production")
    r = client.post("/api/rp/challenges", json={"purpose": "login"})
    assert r.status_code == 201, r.text
    assert "www-authenticate" not in r.headers


def test_a_configuration_that_cannot_say_answers_503_not_open(make_client, store):
    client = make_client("bad-config")
    _, token = token_of(store)
    for headers in ({}, bearer(token)):
        r = client.get("/api/residents", headers=headers)
        assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)
        assert "require_token" in r.json()["detail"]


def test_tokens_never_reach_the_logs(make_client, store, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client("production")
    from openjpki.services.clerk_tokens import list_tokens

    _, token = token_of(store)
    other, revoked = token_of(store)
    revoke_token(store, list_tokens(store, other)[0].id, now=T0)
    assert client.get("/api/residents", headers=bearer(token)).status_code == 200
    assert client.get("/api/residents", headers=bearer(revoked)).status_code == 401
    assert client.get("/api/residents", headers=bearer(token[:-1] + "x")).status_code == 401
    assert "refused: revoked" in caplog.text  # the refusal is logged, by the token's id
    for secret in (token, revoked, token[5:], revoked[5:]):
        assert secret not in caplog.text


def test_the_openapi_document_describes_the_bearer_scheme(make_client):
    client = make_client("sandbox")
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["clerkToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "openjpki clerk token create" in scheme["description"]
    municipal = {(p, m): op for p, ops in spec["paths"].items() for m, op in ops.items()
                 if p.startswith("/api/") and not p.startswith(("/api/rp/", "/api/sandbox"))}
    assert len(municipal) >= 30
    for (path, method), op in municipal.items():
        assert op.get("security") == [{"clerkToken": []}], (method, path)
        assert "401" in op["responses"], (method, path)
    assert "403" in spec["paths"]["/api/counter/revocation"]["post"]["responses"]
    assert "403" in spec["paths"]["/api/authorities/availability"]["put"]["responses"]
    rp = spec["paths"]["/api/rp/challenges"]["post"]
    assert "security" not in rp
    assert client.get("/docs").status_code == 200

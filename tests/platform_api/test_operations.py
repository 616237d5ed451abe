"""The platform as an operator runs it: the keys of the JWKS and their rotation, service
providers in production and in the sandbox, the audit log of every call, the responder
faults of the sandbox (503, never a stale SUCCESS)."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from openjpki.pki import Kind
from openjpki.services.audit import trail
from openjpki.services.platform import add_provider, rotate, set_enabled
from openjpki.services.sandbox_faults import clear_faults, set_fault
from openjpki.services.sandbox_mode import Mode
from openjpki.web import create_app
from openjpki.web.sandbox import sandbox_extension

from .kit import PATHS, check_answer, signed, validator


def _post(client, name, request):
    r = client.post(PATHS[name], json=request)
    return r.status_code, check_answer(name, r.status_code, r.json(), request)


def test_the_platform_key_is_made_by_init_beside_the_ca_keys_readable_by_the_owner_only(home):
    folder = home.settings.keys_dir / "platform"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    pems = list(folder.glob("jwe-*.pem"))
    assert pems and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in pems)


def test_rotation_lists_the_new_key_first_and_honours_the_old_one_for_the_grace(tmp_path, holder, home, clock):
    from rp.homekit import make_home

    other = make_home(tmp_path / "rotating")
    with TestClient(create_app(other.settings, clock=clock)) as client:
        first = client.get("/key/jwks.json").json()
        validator("Jwks").validate(first)
        assert len(first["keys"]) == 1
        old = first["keys"][0]
        rotate(other.settings.keys_dir, clock.now, grace=timedelta(hours=1))
        after = client.get("/key/jwks.json").json()
        validator("Jwks").validate(after)
        assert [k["kid"] for k in after["keys"]][1:] == [old["kid"]] and after["keys"][0]["kid"] != old["kid"]
        sign = other.issue("sign", holder["sign_key"], resident_id="rot1",
                           facts=__import__("rp.conftest", fromlist=["FACTS"]).FACTS)
        assert _post(client, "registration", signed("registration", "SP-rot", sign, holder["sign_key"],
                                                    jwk=old))[0] == 200
        clock.now += timedelta(hours=2)  # the grace is over: the old key is gone
        assert [k["kid"] for k in client.get("/key/jwks.json").json()["keys"]] == [after["keys"][0]["kid"]]
        status, _ = _post(client, "replacement", signed("replacement", "SP-rot", sign, holder["sign_key"], jwk=old))
        assert status == 400


def test_production_serves_only_providers_added_and_not_disabled(tmp_path, holder, clock, monkeypatch):
    from rp.conftest import FACTS
    from rp.homekit import make_home

    prod = make_home(tmp_path / "prod")
    sign = prod.issue("sign", holder["sign_key"], facts=FACTS, resident_id="prod1")
    monkeypatch.setenv("OPENJPKI_SERVICE_MODE", "production")
    with TestClient(create_app(prod.settings, clock=clock)) as client:
        status, answer = _post(client, "registration", signed("registration", "ID123", sign, holder["sign_key"]))
        assert status == 401 and "provider" in answer["status"]["errorInfo"]["message"]
        add_provider(prod.service.store, "ID123", clock.now, label="a bank")
        assert _post(client, "registration", signed("registration", "ID123", sign, holder["sign_key"]))[0] == 200
        set_enabled(prod.service.store, "ID123", False, clock.now)
        assert _post(client, "replacement", signed("replacement", "ID123", sign, holder["sign_key"]))[0] == 401
        with prod.service.store.sessions() as s:
            entries = trail(s, "provider:ID123")
    outcomes = [(e["action"], e["payload"].get("status")) for e in entries]
    assert outcomes == [("platform.registration", 401), ("platform.provider.add", None),
                        ("platform.registration", 200), ("platform.provider.disable", None),
                        ("platform.replacement", 401)]
    assert all(e["payload"].get("transaction_id") for e in entries if e["action"].startswith("platform.r"))


def test_the_sandbox_admits_any_sender_and_records_it(client, home, holder):
    sp = f"NEW-{uuid.uuid4().hex[:6]}"
    request = signed("registration", sp, holder["sign"], holder["sign_key"])
    assert _post(client, "registration", request)[0] == 200
    with home.service.store.sessions() as s:
        entries = trail(s, f"provider:{sp}")
    assert [e["action"] for e in entries] == ["platform.provider.add", "platform.registration"]
    assert entries[1]["payload"]["transaction_id"] == request["requestInfo"]["transactionId"]
    assert entries[1]["payload"]["outcome"] == "success"


@pytest.mark.parametrize("responder,fault", [("ocsp", "tryLater"), ("ocsp", "stale"), ("crl", "unavailable")])
def test_a_responder_fault_is_503_until_it_is_cleared(tmp_path, holder, clock, responder, fault):
    from rp.conftest import FACTS
    from rp.homekit import make_home

    box = make_home(tmp_path / "faulty")
    sign = box.issue("sign", holder["sign_key"], facts=FACTS, resident_id="f1")
    auth = box.issue("auth", holder["auth_key"], resident_id="f1")
    app = create_app(box.settings, clock=clock, sync_interval=0.0,
                     extensions=[sandbox_extension(Mode("sandbox", "test"))])
    store = box.service.store
    with TestClient(app) as client:
        assert _post(client, "registration", signed("registration", "SP", sign, holder["sign_key"]))[0] == 200
        set_fault(store, responder, fault, now=clock.now)
        app.state.openjpki_sandbox.changed()
        status, answer = _post(client, "login", signed("login", "SP", auth, holder["auth_key"]))
        assert status == 503 and answer["status"]["errorInfo"]["reason"] == "503 Service Unavailable"
        assert _post(client, "registration", signed("registration", "SP2", sign, holder["sign_key"]))[0] == 503
        clear_faults(store, now=clock.now)
        app.state.openjpki_sandbox.changed()
        assert _post(client, "login", signed("login", "SP", auth, holder["auth_key"]))[0] == 200


def test_an_ocsp_fault_for_another_certificate_changes_nothing(tmp_path, holder, clock):
    from rp.conftest import FACTS
    from rp.homekit import make_home

    box = make_home(tmp_path / "scoped")
    sign = box.issue("sign", holder["sign_key"], facts=FACTS, resident_id="s1")
    app = create_app(box.settings, clock=clock, sync_interval=0.0,
                     extensions=[sandbox_extension(Mode("sandbox", "test"))])
    with TestClient(app) as client:
        set_fault(box.service.store, "ocsp", "tryLater", kind="auth", now=clock.now)
        app.state.openjpki_sandbox.changed()
        assert _post(client, "registration", signed("registration", "SP", sign, holder["sign_key"]))[0] == 200


def test_rp_api_keeps_working_beside_the_platform(client):
    r = client.post("/api/rp/challenges", json={"purpose": "login"})
    assert r.status_code == 201 and r.json()["key"] == "auth"
    assert os.environ.get("OPENJPKI_SERVICE_MODE") in (None, "")


def test_R2_1_the_sandbox_clock_reaches_the_platform_an_auth_certificate_expired_is_401(tmp_path, holder, clock):
    from rp.conftest import FACTS
    from rp.homekit import make_home

    from openjpki.services.sandbox_clock import reset_clock, set_clock

    box = make_home(tmp_path / "clocked")
    sign = box.issue("sign", holder["sign_key"], facts=FACTS, resident_id="c1")
    auth = box.issue("auth", holder["auth_key"], resident_id="c1")
    app = create_app(box.settings, clock=clock, sync_interval=0.0,
                     extensions=[sandbox_extension(Mode("sandbox", "test"))])
    store = box.service.store
    with TestClient(app) as client:
        assert _post(client, "registration", signed("registration", "SP", sign, holder["sign_key"]))[0] == 200
        set_clock(store, auth.not_valid_after_utc + timedelta(days=2), real=clock.now, freeze=True)
        app.state.openjpki_sandbox.changed()
        status, answer = _post(client, "login", signed("login", "SP", auth, holder["auth_key"]))
        assert status == 401 and "R2.1" in answer["status"]["errorInfo"]["message"]
        reset_clock(store, real=clock.now)
        app.state.openjpki_sandbox.changed()
        assert _post(client, "login", signed("login", "SP", auth, holder["auth_key"]))[0] == 200


def test_a_root_rollover_is_trusted_by_the_running_platform(tmp_path, holder, clock):
    from rp.conftest import FACTS
    from rp.homekit import make_home

    box = make_home(tmp_path / "rollover")
    with TestClient(create_app(box.settings, clock=clock)) as client:
        old = box.issue("sign", holder["sign_key"], facts=FACTS, resident_id="g1")
        assert _post(client, "registration", signed("registration", "SP", old, holder["sign_key"]))[0] == 200
        service = client.app.state.openjpki.open()  # the server's own authority service
        service.rollover("sign", now=clock.now)
        new = service.issue(Kind.SIGN, holder["sign_key"].public_key(), last_valid_day=date(2029, 2, 28),
                            now=clock.now, resident_id="g2", prefecture="埼玉県", municipality="川口市",
                            facts=FACTS).certificate  # under the new root
        assert new.issuer == old.issuer and new.signature != old.signature
        assert _post(client, "registration", signed("registration", "SP", new, holder["sign_key"]))[0] == 200


def test_a_home_made_before_the_platform_gets_its_key_on_first_use(tmp_path, clock):
    import shutil

    from rp.homekit import make_home

    old = make_home(tmp_path / "older")
    shutil.rmtree(old.settings.keys_dir / "platform")
    with TestClient(create_app(old.settings, clock=clock)) as client:
        r = client.get("/key/jwks.json")
        assert r.status_code == 200 and len(r.json()["keys"]) == 1
    assert stat.S_IMODE((old.settings.keys_dir / "platform").stat().st_mode) == 0o700

"""Clerks' API tokens (services.clerk_tokens) on a store, SQLite and PostgreSQL: the token's
form and randomness, only its SHA-256 stored (read from the table itself), what stops a
token working, the audit log without tokens; and when the API needs one
(services.api_access) and which roles may do what (services.clerks.may)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import text

from openjpki.config import Settings
from openjpki.rules import JST
from openjpki.services import clerk_tokens as T
from openjpki.services import clerks as C
from openjpki.services.api_access import ApiConfigError, api_access
from openjpki.services.sandbox_mode import PRODUCTION, SANDBOX, Mode
from openjpki.store.testing import open_test_store

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=JST)


@pytest.fixture
def store(backend, tmp_path):
    with open_test_store(backend, tmp_path) as s:
        C.add_clerk(s, "tanaka", "the-right-password", now=NOW)
        yield s


def test_a_token_is_256_random_bits_with_a_recognisable_prefix():
    tokens = {T.new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert T.TOKEN_RE.match(token) and token.startswith("ojpk_")
        raw = token[len("ojpk_"):]
        assert len(raw) == 43  # base64url of 32 bytes, unpadded
        assert len(base64.urlsafe_b64decode(raw + "=")) == 32


def test_only_the_sha256_is_stored_never_the_token(store):
    made = T.create_token(store, "tanaka", label="batch 住記連携", now=NOW, actor="cli")
    assert made.view.clerk == "tanaka" and made.view.label == "batch 住記連携"
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM clerk_api_tokens"))]
        audit = [str(r) for r in conn.execute(text("SELECT * FROM audit_log"))]
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(made.token.encode()).hexdigest()
    stored = json.dumps(rows, default=str) + json.dumps(audit)
    secret = made.token[len("ojpk_"):]
    for part in (made.token, secret, secret[:16], secret[-16:]):
        assert part not in stored
    # Neither list nor the view shown by the CLI carries the token or its hash.
    listed = json.dumps([v.to_dict(NOW) for v in T.list_tokens(store)])
    assert made.token not in listed and rows[0]["token_hash"] not in listed
    assert "token" not in T.list_tokens(store)[0].to_dict(NOW)
    assert made.to_dict(NOW)["token"] == made.token  # shown once, when made


def test_a_good_token_acts_as_its_clerk_and_notes_its_use(store):
    made = T.create_token(store, "tanaka", now=NOW)
    good = T.authenticate(store, made.token, now=NOW)
    assert isinstance(good, T.Authenticated) and good.clerk.name == "tanaka"
    assert good.clerk.actor == "clerk:tanaka" and good.token_id == made.view.id
    assert T.list_tokens(store, "tanaka")[0].last_used_at == NOW
    # Written at most once a minute, not on every request.
    T.authenticate(store, made.token, now=NOW + timedelta(seconds=30))
    assert T.list_tokens(store)[0].last_used_at == NOW
    T.authenticate(store, made.token, now=NOW + T.LAST_USED_EVERY)
    assert T.list_tokens(store)[0].last_used_at == NOW + T.LAST_USED_EVERY


def why(store, token, now=NOW) -> str:
    result = T.authenticate(store, token, now=now)
    assert isinstance(result, T.TokenRefused), result
    assert result.description and result.message_ja
    return result.why


def test_what_stops_a_token_working(store):
    made = T.create_token(store, "tanaka", now=NOW)
    assert why(store, "ojpk_" + "A" * 43) == "unknown"
    assert why(store, made.token[:-1] + ("A" if made.token[-1] != "A" else "B")) == "unknown"
    for bad in ("", "Bearer " + made.token, made.token + " ", made.token.upper(), "ojpk_x",
                "ojpk_" + "é" * 43, made.token[5:]):
        assert why(store, bad) == "malformed", bad

    C.update_clerk(store, "tanaka", active=False, now=NOW)
    assert why(store, made.token) == "clerk_disabled"
    C.update_clerk(store, "tanaka", active=True, now=NOW)
    assert isinstance(T.authenticate(store, made.token, now=NOW), T.Authenticated)

    for i in range(C.LOCK_AFTER):  # wrong passwords never stop a token
        C.sign_in(store, "tanaka", f"wrong-{i}", now=NOW)
    assert isinstance(T.authenticate(store, made.token, now=NOW), T.Authenticated)
    assert isinstance(T.authenticate(store, made.token, now=NOW + C.LOCK_FOR), T.Authenticated)

    view, changed = T.revoke_token(store, made.view.id, now=NOW, actor="cli")
    assert changed and view.state(NOW) == "revoked" and view.revoked_by == "cli"
    assert why(store, made.token, NOW + C.LOCK_FOR) == "revoked"
    again, changed = T.revoke_token(store, made.view.id, now=NOW + timedelta(days=1))
    assert not changed and again.revoked_at == NOW  # the first revocation stands


def test_expiry_is_exact(store):
    made = T.create_token(store, "tanaka", expires_days=30, now=NOW)
    assert made.view.expires_at == NOW + timedelta(days=30)
    end = NOW + timedelta(days=30)
    assert isinstance(T.authenticate(store, made.token, now=end - timedelta(seconds=1)),
                      T.Authenticated)
    assert why(store, made.token, end) == "expired"
    assert T.list_tokens(store)[0].state(end) == "expired"


def test_bad_input_names_its_field(store):
    for call, field in [
        (lambda: T.create_token(store, "nobody", now=NOW), "name"),
        (lambda: T.create_token(store, "tanaka", label="a\nb", now=NOW), "label"),
        (lambda: T.create_token(store, "tanaka", label="x" * 201, now=NOW), "label"),
        (lambda: T.create_token(store, "tanaka", expires_days=0, now=NOW), "expires_days"),
        (lambda: T.create_token(store, "tanaka", expires_days=3651, now=NOW), "expires_days"),
        (lambda: T.list_tokens(store, "nobody"), "name"),
        (lambda: T.revoke_token(store, 999, now=NOW), "id"),
    ]:
        with pytest.raises(C.ClerkError) as e:
            call()
        assert e.value.field == field and e.value.message_ja and e.value.message_en
    assert T.list_tokens(store) == []  # nothing half-made


def test_the_audit_log_records_tokens_by_id(store):
    from openjpki.services.audit import trail, verify

    made = T.create_token(store, "tanaka", label="batch", expires_days=7, now=NOW, actor="cli")
    T.revoke_token(store, made.view.id, now=NOW, actor="clerk:boss")
    with store.sessions() as s:
        entries = trail(s, "clerk:tanaka")
    created, revoked = [e for e in entries if e["action"].startswith("clerk.token_")]
    assert created["action"] == "clerk.token_created" and created["actor"] == "cli"
    assert created["payload"]["token_id"] == made.view.id
    assert created["payload"]["label"] == "batch" and created["payload"]["expires_at"]
    assert revoked["action"] == "clerk.token_revoked" and revoked["actor"] == "clerk:boss"
    assert made.token not in json.dumps(entries)
    assert verify(store).ok


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_no_string_is_taken_for_a_token_without_the_form(presented):
    """Anything that is not ``ojpk_`` + 43 base64url characters is refused before the store is
    asked (so odd headers never reach it)."""
    if re.fullmatch(r"ojpk_[A-Za-z0-9_-]{43}", presented):
        return
    assert T.authenticate(None, presented, now=NOW).why == "malformed"  # type: ignore[arg-type]


# --- when the API needs a token, and who may do what ----------------------------------------------

@pytest.mark.parametrize("mode, config, required", [
    (PRODUCTION, None, True),
    (PRODUCTION, "[api]\nrequire_token = false\n", True),  # production always needs one
    (SANDBOX, None, False),
    (SANDBOX, "[service]\nmode = \"sandbox\"\n", False),
    (SANDBOX, "[api]\nrequire_token = false\n", False),
    (SANDBOX, "[api]\nrequire_token = true\n", True),
])
def test_when_the_api_needs_a_token(tmp_path, mode, config, required):
    if config is not None:
        (tmp_path / "openjpki.toml").write_text(config, encoding="utf-8")
    access = api_access(Settings.resolve(tmp_path), Mode(mode, "test"))
    assert access.require_token is required
    assert access.to_dict()["mode"] == mode and access.source


@pytest.mark.parametrize("config", ['[api]\nrequire_token = "yes"\n', "api = 1\n",
                                    "[api\n", '[api]\nrequire_token = 1\n'])
def test_a_configuration_that_cannot_say_is_an_error(tmp_path, config):
    (tmp_path / "openjpki.toml").write_text(config, encoding="utf-8")
    with pytest.raises(ApiConfigError) as e:
        api_access(Settings.resolve(tmp_path), Mode(SANDBOX, "test"))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("action, applicant, supervisor_only", [
    ("switch_availability", None, True),  # R5.9: sends every counter's work to the queue
    ("requeue_deferred", None, True),     # R5.9
    ("revocation", "legal_representative", True),  # R4.3
    ("hold", "voluntary_proxy", True),    # R4.3
    ("revocation", "holder", False),
    ("new_issuance", "holder", False),
    ("register_event", None, False),
])
def test_what_a_role_may_do_through_the_api(action, applicant, supervisor_only):
    clerk = C.ClerkView(1, "a", "a", "clerk", True, 0)
    boss = C.ClerkView(2, "b", "b", "supervisor", True, 0)
    assert C.may(boss, action, applicant_type=applicant)
    assert C.may(clerk, action, applicant_type=applicant) is not supervisor_only

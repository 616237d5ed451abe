"""Clerk accounts (services.clerks) on a store, without a server: scrypt hashes, sign-in and
its lock, sessions ended by the epoch, what a role may do, and ``openjpki clerk``."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest

from openjpki.rules import JST
from openjpki.services import clerks as C
from openjpki.store.testing import open_test_store

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=JST)


@pytest.fixture
def store(backend, tmp_path):
    with open_test_store(backend, tmp_path) as s:
        yield s


def test_password_hash_is_scrypt_salted_and_checked():
    h1, h2 = C.hash_password("correct horse"), C.hash_password("correct horse")
    assert h1.startswith("scrypt$16384$8$1$") and h1 != h2  # a fresh salt each time
    assert C.verify_password("correct horse", h1) and C.verify_password("correct horse", h2)
    assert not C.verify_password("correct horsE", h1)
    for broken in ("", "scrypt$1$2", "bcrypt$16384$8$1$AA==$AA==", h1[:-4] + "!!!!"):
        assert not C.verify_password("correct horse", broken)


@pytest.mark.parametrize("name,password,role,field", [
    ("Bad Name", "long-enough-pw", "clerk", "name"),
    ("x", "long-enough-pw", "clerk", "name"),
    ("ok-name", "short", "clerk", "password"),
    ("ok-name", "long\x00enough-pw", "clerk", "password"),
    ("ok-name", "long-enough-pw", "admin", "role"),
])
def test_bad_accounts_name_their_field(store, name, password, role, field):
    with pytest.raises(C.ClerkError) as e:
        C.add_clerk(store, name, password, role=role, now=NOW)
    assert e.value.field == field and e.value.message_ja and e.value.message_en


def test_sign_in_and_the_lock_after_five_wrong_passwords(store):
    C.add_clerk(store, "tanaka", "the-right-password", now=NOW)
    with pytest.raises(C.ClerkError, match="taken"):
        C.add_clerk(store, "tanaka", "another-password", now=NOW)
    ok = C.sign_in(store, "tanaka", "the-right-password", now=NOW)
    assert isinstance(ok, C.ClerkView) and ok.role == "clerk" and not ok.is_supervisor
    assert C.sign_in(store, "nobody", "whatever-password", now=NOW) == C.BAD_CREDENTIALS
    for i in range(C.LOCK_AFTER):
        assert C.sign_in(store, "tanaka", f"wrong-{i}", now=NOW) == C.BAD_CREDENTIALS
    locked = C.sign_in(store, "tanaka", "the-right-password", now=NOW + timedelta(minutes=1))
    assert isinstance(locked, C.SignInRefused) and locked.locked_until is not None
    later = C.sign_in(store, "tanaka", "the-right-password", now=NOW + C.LOCK_FOR)
    assert isinstance(later, C.ClerkView)
    # No password ever reaches the audit log.
    from sqlalchemy import select

    from openjpki.store.audit import AuditEntry
    with store.sessions() as s:
        payloads = json.dumps([e.payload for e in s.execute(select(AuditEntry)).scalars()],
                              ensure_ascii=False)
    assert "the-right-password" not in payloads and "wrong-0" not in payloads


def test_sign_out_and_changes_end_every_session(store):
    v = C.add_clerk(store, "suzuki", "the-right-password", role="supervisor", now=NOW)
    assert C.current_clerk(store, v.id, v.session_epoch) is not None
    C.sign_out(store, v.id, now=NOW)
    assert C.current_clerk(store, v.id, v.session_epoch) is None
    v2 = C.sign_in(store, "suzuki", "the-right-password", now=NOW)
    assert C.current_clerk(store, v2.id, v2.session_epoch).is_supervisor
    C.update_clerk(store, "suzuki", role="clerk", now=NOW)
    assert C.current_clerk(store, v2.id, v2.session_epoch) is None  # role changed: sign in again
    C.update_clerk(store, "suzuki", active=False, now=NOW)
    assert C.sign_in(store, "suzuki", "the-right-password", now=NOW) == C.BAD_CREDENTIALS


@pytest.mark.parametrize("action,applicant,supervisor_only", [
    ("revocation", "holder", False),
    ("revocation", "legal_representative", True),  # R4.3 on someone else's request
    ("revocation", "voluntary_proxy", True),
    ("hold", "holder", False),
    ("hold", "voluntary_proxy", True),
    ("new_issuance", "voluntary_proxy", False),
    ("pin_reset", "legal_representative", False),
    ("requeue_deferred", None, True),  # R5.9
    ("manage_clerks", None, True),
])
def test_what_a_role_may_do(action, applicant, supervisor_only):
    assert C.needs_supervisor(action, applicant_type=applicant) is supervisor_only
    clerk = C.ClerkView(1, "a", "a", "clerk", True, 0)
    boss = C.ClerkView(2, "b", "b", "supervisor", True, 0)
    assert C.may(boss, action, applicant_type=applicant)
    assert C.may(clerk, action, applicant_type=applicant) is not supervisor_only


def test_cli_clerk_add_list_set(store, tmp_path, monkeypatch, capsys):
    """``openjpki clerk add NAME --role supervisor`` makes the first supervisor of a home."""
    from openjpki.cli import main

    url = store.engine.url.render_as_string(hide_password=False)

    def run(*args: str, stdin: str = "", db: str = url) -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        with pytest.raises(SystemExit) as e:
            main(["--home", str(tmp_path / "home"), "--database-url", db, *args])
        return e.value.code

    assert run("clerk", "list", db=f"sqlite:///{tmp_path / 'none.sqlite3'}") == 2
    assert "openjpki init" in capsys.readouterr().err

    assert run("clerk", "add", "boss", "--role", "supervisor", "--password-stdin", "--json",
               stdin="supervisor-password\n") == 0
    assert json.loads(capsys.readouterr().out) == {
        "id": 1, "name": "boss", "display_name": "boss", "role": "supervisor", "active": True}
    assert run("clerk", "add", "boss", "--password-stdin", stdin="another-password\n") == 2
    assert "already taken" in capsys.readouterr().err
    assert run("clerk", "add", "bob", "--password-stdin", stdin="short\n") == 2
    err = capsys.readouterr().err
    assert "10 characters" in err and "Traceback" not in err
    assert run("clerk", "add", "bob", "--role", "root", "--password-stdin",
               stdin="long-enough-pw\n") == 2
    monkeypatch.setenv("OPENJPKI_CLERK_PASSWORD", "from-the-environment")
    assert run("clerk", "add", "bob") == 0
    capsys.readouterr()
    assert run("clerk", "set", "bob", "--role", "supervisor", "--disable") == 0
    assert "supervisor, disabled" in capsys.readouterr().out
    assert run("clerk", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["name"], c["role"], c["active"]) for c in listed] == [
        ("boss", "supervisor", True), ("bob", "supervisor", False)]
    assert run("clerk", "set", "nobody", "--enable") == 2

"""``openjpki clerk token create|list|revoke`` (CLI.md conventions: ``--json`` on stdout, one
line on stderr and exit 2 for bad usage): the token printed once, never listed, revoked at
once; and the token it prints opens the API of a production server."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from openjpki.store.testing import open_test_store

OPENJPKI = str(Path(sys.executable).with_name("openjpki"))
FIELDS = {"id", "clerk", "label", "state", "created_at", "created_by", "expires_at",
          "last_used_at", "revoked_at", "revoked_by"}


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """``cli("clerk", "token", …)`` in this process, on a migrated store with two clerks."""
    from openjpki.cli import main

    with open_test_store("sqlite", tmp_path) as store:
        url = store.engine.url.render_as_string(hide_password=False)

        def run(*args: str, stdin: str = "", db: str = url) -> Result:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
            capsys.readouterr()
            with pytest.raises(SystemExit) as e:
                main(["--home", str(tmp_path / "home"), "--database-url", db, *args])
            out = capsys.readouterr()
            return Result(e.value.code, out.out, out.err)

        monkeypatch.setenv("OPENJPKI_CLERK_PASSWORD", "a-long-enough-password")
        assert run("clerk", "add", "tanaka").code == 0
        assert run("clerk", "add", "boss", "--role", "supervisor").code == 0
        yield run


def one_line_error(r: Result, *words: str) -> None:
    assert r.code == 2 and r.out == "", (r.code, r.out, r.err)
    assert r.err.startswith("error: ") and r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err
    for w in words:
        assert w in r.err, r.err


def test_create_prints_the_token_once_and_list_never_shows_it(cli):
    r = cli("clerk", "token", "create", "tanaka", "--label", "住記連携", "--expires-days", "90",
            "--json")
    assert r.code == 0, r.err
    made = r.json()
    assert set(made) == FIELDS | {"token"}
    assert made["token"].startswith("ojpk_") and len(made["token"]) == 48
    assert made["clerk"] == "tanaka" and made["label"] == "住記連携"
    assert made["state"] == "active" and made["created_by"] == "cli"
    created = datetime.fromisoformat(made["created_at"])
    assert datetime.fromisoformat(made["expires_at"]) - created == timedelta(days=90)

    plain = cli("clerk", "token", "create", "boss")
    assert plain.code == 0
    token = plain.out.strip()
    assert plain.out == token + "\n" and token.startswith("ojpk_")  # TOKEN=$(…) works
    assert "shown only now" in plain.err and "lasts until revoked" in plain.err

    listed = cli("clerk", "token", "list", "--json")
    assert listed.code == 0
    assert [(t["id"], t["clerk"], t["state"]) for t in listed.json()] == [
        (made["id"], "tanaka", "active"), (made["id"] + 1, "boss", "active")]
    assert all(set(t) == FIELDS for t in listed.json())
    assert made["token"] not in listed.out and token not in listed.out
    only = cli("clerk", "token", "list", "boss", "--json").json()
    assert [t["clerk"] for t in only] == ["boss"]
    text = cli("clerk", "token", "list")
    assert text.code == 0 and "tanaka" in text.out and "住記連携" in text.out
    assert made["token"] not in text.out and "ojpk_" not in text.out


def test_revoke_is_at_once_and_idempotent(cli):
    made = cli("clerk", "token", "create", "tanaka", "--json").json()
    r = cli("clerk", "token", "revoke", str(made["id"]), "--json")
    assert r.code == 0 and r.json()["state"] == "revoked" and r.json()["revoked_by"] == "cli"
    assert "token" not in r.json()
    again = cli("clerk", "token", "revoke", str(made["id"]))
    assert again.code == 0 and "already revoked" in again.out
    assert cli("clerk", "token", "list", "tanaka", "--json").json()[0]["state"] == "revoked"
    text = cli("clerk", "token", "revoke", str(made["id"]))
    assert text.out.count("\n") == 1


@pytest.mark.parametrize("args, words", [
    (("create", "nobody"), ("No clerk 'nobody'",)),
    (("create", "nobody", "--json"), ("No clerk",)),
    (("list", "nobody"), ("No clerk 'nobody'",)),
    (("revoke", "999"), ("No API token 999",)),
    (("revoke", "abc"), ("ID",)),
    (("revoke", "0"), ("ID",)),
    (("create", "tanaka", "--expires-days", "0"), ("--expires-days",)),
    (("create", "tanaka", "--expires-days", "3651"), ("--expires-days",)),
    (("create", "tanaka", "--label", "x" * 201), ("label",)),
    (("create", "tanaka", "--label", "a\tb"), ("label",)),
    (("create",), ("LOGIN", "NAME")),
])
def test_bad_usage_is_one_line_and_exit_2(cli, args, words):
    r = cli("clerk", "token", *args)
    assert r.code == 2
    assert r.err.startswith("error: ") and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert any(w in r.err for w in words), r.err
    assert cli("clerk", "token", "list", "--json").json() == []  # nothing made


def test_a_home_not_initialised_is_one_line(cli, tmp_path):
    r = cli("clerk", "token", "create", "tanaka",
            db=f"sqlite:///{tmp_path / 'none.sqlite3'}")
    one_line_error(r, "openjpki init")


def test_the_printed_token_opens_a_production_api(tmp_path, monkeypatch):
    """The real command line end to end: ``TOKEN=$(openjpki clerk token create NAME)`` and
    the API of a production app answers it (and nothing else)."""
    from fastapi.testclient import TestClient

    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home
    from openjpki.services.authority_setup import PASSPHRASE_ENV
    from openjpki.services.authority_testing import PASSPHRASE, seed_ca_keys
    from openjpki.web import create_app
    from openjpki.web.api import api_extension

    home = tmp_path / "home"
    monkeypatch.delenv("OPENJPKI_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENJPKI_SERVICE_MODE", raising=False)
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
    settings = Settings.resolve(home)
    seed_ca_keys(settings.keys_dir)  # speed only: CA keys made once per process
    initialise_home(settings, now=datetime.now().astimezone())
    (home / "openjpki.toml").write_text(
        (home / "openjpki.toml").read_text(encoding="utf-8") + '\n[service]\nmode = "production"\n',
        encoding="utf-8")
    from openjpki.services.clerk_tokens import list_tokens
    from openjpki.services.clerks import add_clerk
    from openjpki.store import Store

    store = Store.open(settings.effective_database_url)
    try:
        add_clerk(store, "sato", "a-long-enough-password", now=datetime.now().astimezone())
        made = subprocess.run([OPENJPKI, "--home", str(home), "clerk", "token", "create", "sato"],
                              env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                              timeout=60)
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        app = create_app(settings, extensions=[api_extension])
        with TestClient(app, raise_server_exceptions=False) as c:
            assert c.get("/api/residents").status_code == 401
            assert c.get("/api/residents",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert list_tokens(store, "sato")[0].last_used_at is not None
    finally:
        store.dispose()

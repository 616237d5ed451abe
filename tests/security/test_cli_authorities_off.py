"""``authorities off`` holds at the CLI's counter exactly as at the API: the CLI goes through
the same front door (services.deferred.submit), so work that needs the authorities is
queued (R5.9) — the CLI says so and exits 3 — and work on the card alone is done at once."""

from __future__ import annotations

import json

import pytest

from tests.security.serve_app_kit import cli_in

pytestmark = pytest.mark.slow

ALWAYS_OPEN = """
[offices.always]
name_ja = "試験窓口"
name_en = "Test counter"
weekdays = "00:00-23:59"
weekends_holidays = "00:00-23:59"
"""
EXIT_QUEUED = 3


def cli(home, *args, env=None):
    return cli_in(home, *args, env=env)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    (h / "always.toml").write_text(ALWAYS_OPEN, encoding="utf-8")
    (h / "openjpki.toml").write_text('[counter]\ncalendar = "always.toml"\n'
                                     'default_office = "always"\n', encoding="utf-8")
    assert cli(h, "init").returncode == 0
    r = cli(h, "demo", "--json")
    assert r.returncode == 0, r.stderr
    return h


def _auth_status(home) -> str:
    r = cli(home, "resident", "show", "1", "--json")
    assert r.returncode == 0, r.stderr
    cards = [c for c in json.loads(r.stdout)["cards"] if c["state"] == "active"]
    return next(c["status"] for c in cards[0]["certificates"] if c["kind"] == "auth")


def test_R5_9_cli_revocation_is_queued_while_the_authorities_are_off(home):
    assert _auth_status(home) == "good"
    assert cli(home, "authorities", "off", "--reason", "保守").returncode == 0
    r = cli(home, "counter", "revoke", "1", "--kind", "auth", "--json")
    assert r.returncode == EXIT_QUEUED, (r.returncode, r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert out["outcome"] == "deferred" and out["rule"] == "R5.9" and out["item_id"] >= 1
    assert _auth_status(home) == "good"  # nothing revoked behind the switch
    r = cli(home, "counter", "hold", "1", "--kind", "sign")
    assert r.returncode == EXIT_QUEUED and r.stdout.startswith("queued (R5.9)"), r.stdout
    assert "completed" not in r.stdout
    queue = json.loads(cli(home, "queue", "list", "--json").stdout)
    items = queue["items"] if isinstance(queue, dict) else queue
    assert sorted(i["procedure"] for i in items if i["state"] == "queued") == \
        ["hold", "revocation"]
    # work on the card alone is not the authorities': done at once, even now
    r = cli(home, "counter", "pin-reset", "1", "--kind", "auth",
            env={"OPENJPKI_CARD_PIN": "2468", "OPENJPKI_NEW_PIN": "4321"})
    assert r.returncode == 0 and r.stdout.startswith("completed"), r.stdout + r.stderr
    # back on: the worker carries the queued work out, once
    assert cli(home, "authorities", "on").returncode == 0
    r = cli(home, "worker", "--drain", "--json")
    assert r.returncode == 0, r.stderr
    assert _auth_status(home) == "revoked"


def test_R5_9_cli_issuance_is_queued_too(home):
    assert cli(home, "authorities", "off").returncode == 0
    r = cli(home, "resident", "add", "--name", "試験　次郎", "--address", "埼玉県川口市青木一丁目1番1号",
            "--birth", "1990-05-05", "--sex", "male", "--json")
    assert r.returncode == 0, r.stderr
    rid = str(json.loads(r.stdout)["id"])
    r = cli(home, "counter", "issue", rid, "--new-card", "--photo-id", "drivers_licence",
            env={"OPENJPKI_CARD_PIN": "1357", "OPENJPKI_SIGN_PIN": "SIGN1234",
                 "OPENJPKI_AUTH_PIN": "2468"})
    assert r.returncode == EXIT_QUEUED, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.startswith("queued (R5.9)")

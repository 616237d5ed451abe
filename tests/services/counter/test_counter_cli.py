"""The counter's commands (resident, counter, register, audit verify): thin over the
services; --json prints the service's answer; a refusal exits 1 with its rule; bad input
exits 2 with one line and no traceback."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from openjpki.cli import main

from .kit import cli, opening


def test_counter_cli_scenario(capsys, inited_home):
    home = inited_home
    t = opening(datetime.now(timezone.utc) + timedelta(minutes=5)) + timedelta(minutes=1)
    at = t.isoformat()
    rc, out, _ = cli(capsys, home, "resident", "add", "--name", "山田　太郎", "--address",
                     "埼玉県川口市青木二丁目1番1号", "--birth", "1980-05-15", "--sex", "male",
                     "--json")
    assert rc == 0 and json.loads(out)["id"] == 1
    rc, out, err = cli(capsys, home, "counter", "issue", "1", "--new-card", "--card-pin", "1234",
                       "--sign-pin", "ABC123", "--auth-pin", "5678", "--at", at, "--json")
    assert rc == 0, err
    issued = json.loads(out)
    assert issued["outcome"] == "completed" and len(issued["issued"]) == 2
    # A renewal before the window: refused, rule printed, exit 1.
    rc, out, _ = cli(capsys, home, "counter", "renew", "1", "--card-pin", "1234", "--sign-pin",
                     "ABC123", "--auth-pin", "5678", "--at", at)
    assert rc == 1 and "refused (R3.2)" in out and "opens:" in out
    rc, out, _ = cli(capsys, home, "counter", "renew", "1", "--at", at, "--json")
    assert rc == 1 and json.loads(out)["rule"] == "R3.2"
    # A move revokes SIGN and offers the re-issue; the face first (R5.2).
    rc, out, _ = cli(capsys, home, "register", "move", "1", "--address",
                     "埼玉県川口市本町一丁目2番3号", "--at", at, "--json")
    moved = json.loads(out)
    assert rc == 0 and moved["ended"][0]["reason"] == "affiliationChanged"
    assert moved["offers"][0]["procedure"] == "reissue_after_change"
    rc, out, _ = cli(capsys, home, "counter", "reissue-sign", "1", "--card-pin", "1234",
                     "--sign-pin", "NEW123", "--at", at)
    assert rc == 1 and "R5.2" in out
    assert cli(capsys, home, "register", "card-particulars", "1", "--at", at)[0] == 0
    rc, out, _ = cli(capsys, home, "counter", "reissue-sign", "1", "--card-pin", "1234",
                     "--sign-pin", "NEW123", "--at", at, "--json")
    assert rc == 0 and json.loads(out)["issued"][0]["kind"] == "sign"
    # Voluntary proxy, visit 1: the inquiry form is mailed (not a refusal).
    rc, out, _ = cli(capsys, home, "counter", "pin-reset", "1", "--kind", "auth",
                     "--card-pin", "1234", "--new", "2468", "--applicant", "voluntary_proxy",
                     "--photo-id", "drivers_licence:2099-01-01", "--at", at, "--json")
    mailed = json.loads(out)
    assert rc == 0 and mailed["outcome"] == "inquiry_mailed" and mailed["reference"]
    rc, out, _ = cli(capsys, home, "resident", "show", "1", "--json")
    shown = json.loads(out)
    assert [x["reference"] for x in shown["letters"]] == [mailed["reference"]]
    assert {c["status"] for c in shown["cards"][0]["certificates"]} == {"good", "revoked"}
    rc, out, _ = cli(capsys, home, "audit", "verify", "--json")
    assert rc == 0 and json.loads(out)["ok"] is True
    # Tampering: exit 1 with the first broken entry.
    import sqlite3

    db = sqlite3.connect(home / "openjpki.sqlite3")
    db.execute("UPDATE audit_log SET payload = '{}' WHERE seq = 2")
    db.commit()
    db.close()
    rc, out, _ = cli(capsys, home, "audit", "verify")
    assert rc == 1 and "BROKEN at entry 2" in out
    rc, out, _ = cli(capsys, home, "audit", "verify", "--json")
    assert rc == 1 and json.loads(out)["broken_seq"] == 2


@pytest.mark.parametrize("args, message", [
    (["counter", "renew", "1", "--at", "yesterday"], "--at must be"),
    (["counter", "renew", "7", "--at", "2030-01-07T10:00"], "no resident 7"),
    (["counter", "issue", "1", "--kind", "both"], "--kind must be one of"),
    (["counter", "revoke", "1", "--reason", "bored"], "--reason must be one of"),
    (["resident", "add", "--name", "x", "--address", "y", "--birth", "1990-13-01", "--sex",
      "male"], "--birth must be a date"),
    (["resident", "add", "--name", "x", "--address", "y", "--birth", "1990-01-01", "--sex",
      "robot"], "sex must be"),
    (["register", "move", "1", "--address", "z"], "no resident 1"),
])
def test_counter_cli_bad_input_exits_2(capsys, inited_home, args, message):
    rc, out, err = cli(capsys, inited_home, *args)
    assert rc == 2, (out, err)
    assert message in err and "Traceback" not in err + out


def test_counter_cli_needs_init(capsys, home):
    rc, _, err = cli(capsys, home, "audit", "verify")
    assert rc == 2 and "openjpki init" in err
    rc, _, err = cli(capsys, home, "resident", "list")
    assert rc == 2 and "init" in err


def test_counter_cli_uses_the_sandbox_clock_without_at(capsys, inited_home):
    home = inited_home
    day = opening(datetime.now(timezone.utc) + timedelta(days=40)).date()
    assert cli(capsys, home, "sandbox", "time", "set", day.isoformat())[0] == 0
    assert cli(capsys, home, "resident", "add", "--name", "山田　太郎", "--address", "埼玉県川口市1",
               "--birth", "1980-05-15", "--sex", "male")[0] == 0
    rc, out, err = cli(capsys, home, "counter", "issue", "1", "--new-card", "--card-pin", "1234",
                       "--sign-pin", "ABC123", "--auth-pin", "5678", "--json")
    assert rc == 0, (out, err)
    not_after = json.loads(out)["issued"][0]["not_after"]
    # Six years on the sandbox clock: past the expiry, so no renewal (R3.3).
    later = opening(datetime.fromisoformat(not_after + "T00:00+09:00") + timedelta(days=30))
    assert cli(capsys, home, "sandbox", "time", "set", later.date().isoformat())[0] == 0
    rc, out, _ = cli(capsys, home, "counter", "renew", "1", "--json")
    assert rc == 1 and json.loads(out)["rule"] == "R3.3"

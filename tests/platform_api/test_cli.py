"""`openjpki platform …`: providers added, listed, disabled and enabled (JSON and text), keys
listed and rotated; a refused change is one line and exit 1, a home not initialised exit 2."""

from __future__ import annotations

import json
import stat

import pytest


@pytest.fixture
def cli(capsys):
    from openjpki.cli import main

    def run(home, *args: str):
        capsys.readouterr()
        try:
            main(["--home", str(home), *args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_providers_are_added_listed_disabled_and_enabled(cli, home):
    code, out, _ = cli(home.settings.home, "platform", "provider", "add", "BANK-1", "--label", "a bank", "--json")
    assert code == 0 and json.loads(out)["enabled"] is True and json.loads(out)["origin"] == "cli"
    code, _, err = cli(home.settings.home, "platform", "provider", "add", "BANK-1")
    assert code == 1 and "exists already" in err and len(err.strip().splitlines()) == 1
    code, out, _ = cli(home.settings.home, "platform", "provider", "disable", "BANK-1", "--json")
    assert code == 0 and json.loads(out)["enabled"] is False and json.loads(out)["disabled_at"]
    code, out, _ = cli(home.settings.home, "platform", "provider", "list", "--json")
    listed = {p["id"]: p for p in json.loads(out)["providers"]}
    assert listed["BANK-1"]["enabled"] is False and listed["BANK-1"]["label"] == "a bank"
    code, out, _ = cli(home.settings.home, "platform", "provider", "enable", "BANK-1")
    assert code == 0 and "BANK-1 (a bank): enabled" in out
    code, _, err = cli(home.settings.home, "platform", "provider", "disable", "NOBODY")
    assert code == 1 and "no provider" in err
    code, _, err = cli(home.settings.home, "platform", "provider", "add", "bad id!")
    assert code == 1 and "provider id" in err


def test_keys_are_listed_and_rotated(cli, tmp_path):
    from rp.homekit import make_home

    h = make_home(tmp_path / "keys-home")
    code, out, _ = cli(h.settings.home, "platform", "key", "list", "--json")
    first = json.loads(out)
    assert code == 0 and first["previous"] is None
    code, out, _ = cli(h.settings.home, "platform", "key", "rotate", "--grace-hours", "2", "--json")
    rotated = json.loads(out)
    assert code == 0 and rotated["previous"] == first["current"] and rotated["current"] != first["current"]
    code, out, _ = cli(h.settings.home, "platform", "key", "list")
    assert code == 0 and "previous" in out and "honoured" in out
    pems = sorted((h.settings.keys_dir / "platform").glob("jwe-*.pem"))
    assert len(pems) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in pems)
    cli(h.settings.home, "platform", "key", "rotate")  # the oldest key file is removed
    assert len(list((h.settings.keys_dir / "platform").glob("jwe-*.pem"))) == 2


def test_a_home_not_initialised_is_one_line_and_exit_2(cli, tmp_path):
    code, _, err = cli(tmp_path / "empty", "platform", "provider", "list")
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1

"""`openjpki rules …` as CLI.md specifies it, run as a user runs it (a subprocess): JSON
shapes, exit 1 for refusals with the rule printed, exit 2 with one line and no traceback for
bad input."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from openjpki.cli import main

EXPIRY = ("rules", "expiry", "--birth", "1990-06-15", "--issued", "2024-01-10",
          "--card-expiry", "2034-06-15")
EXPIRY_CAPS = [
    (("--kind", "sign", "--auth-expiry", "2027-06-15"), {"expires_on": "2027-06-15", "rule": "R2.2"}),
    (("--kind", "auth", "--stay-until", "2025-09-30"), {"expires_on": "2025-09-30", "rule": "R2.3"}),
    (("--kind", "auth", "--auth-expiry", "2027-06-15"), {"expires_on": "2028-06-15", "rule": "R2.1"}),
]
EXPIRY_29_FEB = ("rules", "expiry", "--birth", "2000-02-29", "--issued", "2021-01-01",
                 "--card-expiry", "2031-01-01")
RENEWAL = ("rules", "renewal", "--expiry", "2025-07-01", "--on")
RENEWAL_REFUSED = [("2025-04-01", "R3.2"), ("2025-07-02", "R3.3")]
PINS = [("sign", "ABC123", True, "R1.3"), ("sign", "abc123", False, "R1.3"),
        ("auth", "12345", False, "R1.3"), ("card", "1234", True, "R1.6")]
BAD = [
    ("rules", "renewal", "--expiry", "2025-13-01", "--on", "2025-04-02"),
    ("rules", "renewal", "--expiry", "01/07/2025", "--on", "2025-04-02", "--json"),
    ("rules", "expiry", "--birth", "2030-01-01", "--issued", "2024-01-10", "--card-expiry", "2034-01-01"),
    ("rules", "expiry", "--birth", "1990-01-01", "--issued", "2024-01-10", "--card-expiry", "2034-01-01", "--kind", "card"),
    ("rules", "pin", "--kind", "bank", "1234"),
    ("rules", "calendar", "--at", "tomorrow"),
]
CALENDAR_CLOSED = ("rules", "calendar", "--at", "2024-06-16T10:00", "--office", "station-centre", "--json")
CALENDAR_ALL = ("rules", "calendar", "--at", "2024-06-14T10:00", "--json")


# A representative command of each behaviour runs as a user runs it, in a subprocess (all
# started side by side); the tables below run the same entry point in-process.
SUBPROCESS = [
    (*EXPIRY, "--json"),
    (*RENEWAL, "2025-04-02", "--json"),
    (*RENEWAL, "2025-04-01"),
    ("rules", "pin", "--kind", "sign", "abc123", "--json"),
    BAD[0],
    BAD[2],
    CALENDAR_CLOSED,
]


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "OPENJPKI_HOME": str(home), "COLUMNS": "200"}

    def one(args):
        return args, subprocess.run([sys.executable, "-m", "openjpki", *args],
                                    capture_output=True, text=True, env=env, timeout=120)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, SUBPROCESS))


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """The ``openjpki`` entry point in-process: (returncode, stdout, stderr)."""
    monkeypatch.setenv("OPENJPKI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")

    def _run(*args):
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return subprocess.CompletedProcess(args, e.value.code or 0, out, err)
    return _run


@pytest.mark.parametrize("args", SUBPROCESS, ids=lambda a: "-".join(a[1:3]) + "-" + a[-1])
def test_subprocess_matches_in_process(processes, run, args):
    p = processes[args]
    assert "Traceback" not in p.stdout + p.stderr
    r = run(*args)
    assert (p.returncode, p.stdout) == (r.returncode, r.stdout)
    assert p.stderr.strip() == r.stderr.strip()
    assert p.returncode in (0, 1, 2) and (p.stdout or p.stderr)


def test_R2_1_expiry_json(run):
    r = run(*EXPIRY, "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"expires_on": "2028-06-15", "rule": "R2.1"}


def test_R2_1_expiry_readable_line(run):
    r = run(*EXPIRY)
    assert r.returncode == 0 and "2028-06-15" in r.stdout and "R2.1" in r.stdout


@pytest.mark.parametrize("extra,expected", EXPIRY_CAPS, ids=["R2_2_auth_cap", "R2_3_stay",
                                                             "R2_2_not_for_auth"])
def test_R2_2_R2_3_expiry_caps_json(run, extra, expected):
    r = run(*EXPIRY, *extra, "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == expected


def test_R2_4_29_feb_readable_line(run):
    r = run(*EXPIRY_29_FEB)
    assert r.returncode == 0 and "2025-02-28" in r.stdout and "R2.1" in r.stdout
    assert len(r.stdout.strip().splitlines()) == 1


def test_R3_1_worked_example_expiry_1_july_opens_2_april_cli(run):
    r = run(*RENEWAL, "2025-04-02", "--json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert set(out) == {"allowed", "opens_on", "rule", "message_ja", "message_en"}
    assert (out["allowed"], out["opens_on"], out["rule"]) == (True, "2025-04-02", "R3.1")


@pytest.mark.parametrize("on,rule", RENEWAL_REFUSED, ids=["R3_2_before", "R3_3_after"])
def test_R3_2_R3_3_renewal_refusal_exits_1_with_rule(run, on, rule):
    r = run(*RENEWAL, on, "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert (out["allowed"], out["rule"], out["opens_on"]) == (False, rule, "2025-04-02")
    assert out["message_ja"] and out["message_en"]
    plain = run(*RENEWAL, on)
    assert plain.returncode == 1 and rule in plain.stdout


@pytest.mark.parametrize("kind,value,valid,rule", PINS, ids=[f"{p[0]}-{p[1]}" for p in PINS])
def test_R1_3_R1_6_pin_json(run, kind, value, valid, rule):
    r = run("rules", "pin", "--kind", kind, value, "--json")
    assert r.returncode == (0 if valid else 1)
    out = json.loads(r.stdout)
    assert set(out) == {"valid", "rule", "message_ja", "message_en"}
    assert (out["valid"], out["rule"]) == (valid, rule)
    assert value not in r.stdout  # the PIN is not echoed


def test_R1_3_invalid_pin_plain_prints_rule_and_exits_1(run):
    r = run("rules", "pin", "--kind", "sign", "ABCDEF")
    assert r.returncode == 1 and "R1.3" in r.stdout


@pytest.mark.parametrize("args", BAD, ids=["month_13", "not_iso", "born_after_issue",
                                           "bad_kind", "bad_pin_kind", "bad_datetime"])
def test_bad_input_exits_2_with_one_line(run, args):
    r = run(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error:")


def test_R5_8_calendar(run):
    r = run(*CALENDAR_CLOSED)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert (out["open"], out["rule"], out["opens_at"]) == (False, "R5.8", "2024-06-17T08:30:00+09:00")
    r = run(*CALENDAR_ALL)
    assert r.returncode == 0
    assert {row["office"]: row["open"] for row in json.loads(r.stdout)} == {
        "city-hall": True, "station-centre": True, "kiosk": True}


def test_bad_date_in_a_real_process_exits_2_with_one_line_and_no_traceback(processes):
    for args in (BAD[0], BAD[2]):
        p = processes[args]
        assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and p.stderr.startswith("error:")


def test_R3_2_refusal_in_a_real_process_exits_1_and_prints_the_rule(processes):
    p = processes[(*RENEWAL, "2025-04-01")]
    assert p.returncode == 1 and "R3.2" in p.stdout and "2025-04-02" in p.stdout
